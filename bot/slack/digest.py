"""The stakeholder digest as a Slack message: escaped mrkdwn in Block Kit sections within
Slack's limits. No I/O."""

from __future__ import annotations

from typing import Any

from bot.domain.notes.digest import Digest, when
from bot.domain.text import truncate
from bot.slack.layout import MAX_FALLBACK_CHARS, MAX_MESSAGE_BLOCKS, pack_sections, section
from bot.slack.mrkdwn import escape_mrkdwn


def digest_message(digest: Digest, late: str | None = None) -> dict[str, Any]:
    """`{"text", "blocks"}` for chat.postMessage: escaped, within Block Kit's limits, the
    last block saying "…and N more releases" when cut; a digest sent late says so first."""
    summary = escape_mrkdwn(digest.summary())
    head = f"*Release digest*\n{summary}"
    if late:
        head = f"*Release digest*\n_{escape_mrkdwn(late)}_\n{summary}"
    blocks = [section(head)]
    groups = [
        (
            f"*{escape_mrkdwn(group.title)}*",
            [f"• _{when(line.at, short=True)}_ {escape_mrkdwn(line.text)}" for line in group.lines],
        )
        for group in digest.groups
    ]
    blocks += pack_sections(groups, max_blocks=MAX_MESSAGE_BLOCKS - 1, noun="release")
    return {"text": truncate(f"Release digest: {summary}", MAX_FALLBACK_CHARS), "blocks": blocks}
