"""Packing mrkdwn lines into Block Kit sections within Slack's limits."""

from __future__ import annotations

from bot.slack.layout import MAX_SECTION_CHARS, format_more, pack_sections, section
from standins.slack_limits import validate_blocks


def test_section_blocks_cut_a_line_too_long_for_one_section() -> None:
    blocks = pack_sections([("*Added*", ["• " + "y" * 5000, "• short"])])
    assert validate_blocks(blocks) == []
    assert [len(b["text"]["text"]) for b in blocks] == [3000, len("*Added*\n• short")]
    assert blocks[0]["text"]["text"].endswith("…")


def test_a_heading_is_repeated_on_every_section_its_lines_fill() -> None:
    lines = [f"• {n} " + "x" * 1200 for n in range(7)]  # two lines a section
    blocks = pack_sections([("*Fixed*", lines), ("*Other*", ["• docs"])])
    texts = [b["text"]["text"] for b in blocks]
    assert [t.splitlines()[0] for t in texts] == ["*Fixed*"] * 4 + ["*Other*"]
    assert [t.count("\n• ") for t in texts] == [2, 2, 2, 1, 1]
    assert texts[3] == f"*Fixed*\n{lines[6]}"
    assert texts[4] == "*Other*\n• docs"


def test_the_overflow_is_its_own_block_counting_what_was_left_out() -> None:
    lines = [f"• {n} " + "x" * 1490 for n in range(100)]  # two lines a section
    blocks = pack_sections([("", lines)], max_blocks=10, noun="change")
    assert len(blocks) == 10
    assert blocks[-1]["text"]["text"] == "…and 82 more changes"


def test_the_overflow_can_end_the_last_section_instead() -> None:
    lines = [f"• {n} " + "x" * 1400 for n in range(100)]  # two lines a section
    blocks = pack_sections([("", lines)], max_blocks=10, more_inline=True)
    assert len(blocks) == 10
    assert blocks[-1]["text"]["text"].startswith("• 18 ")
    assert blocks[-1]["text"]["text"].endswith("\n…and 80 more")


def test_lines_that_fit_are_left_as_they_are() -> None:
    assert pack_sections([("", ["a", "b"])]) == [section("a\nb")]
    assert pack_sections([]) == []


def test_format_more() -> None:
    assert format_more(7) == "…and 7 more"
    assert format_more(1, noun="change") == "…and 1 more change"
    assert format_more(2, noun="release") == "…and 2 more releases"


def test_a_section_is_cut_at_the_limit() -> None:
    block = section("z" * 5000, block_id="herald_reply")
    assert block["block_id"] == "herald_reply"
    assert len(block["text"]["text"]) == MAX_SECTION_CHARS
    assert validate_blocks([block]) == []
