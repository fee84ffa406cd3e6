"""Packing mrkdwn lines into Block Kit sections within Slack's limits."""

from __future__ import annotations

from bot.slack.layout import section_blocks
from standins.slack_limits import validate_blocks


def test_section_blocks_cut_a_line_too_long_for_one_section() -> None:
    blocks = section_blocks([("*Added*", ["• " + "y" * 5000, "• short"])])
    assert validate_blocks(blocks) == []
    assert [len(b["text"]["text"]) for b in blocks] == [3000, len("*Added*\n• short")]
    assert blocks[0]["text"]["text"].endswith("…")
