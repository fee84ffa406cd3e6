"""The stakeholder digest as a Slack message: escaped mrkdwn in Block Kit sections within
Slack's limits. No I/O."""

from __future__ import annotations

from typing import Any

from bot.domain.notes.digest import Digest, when
from bot.domain.text import escape_mrkdwn, truncate
from bot.slack.layout import MAX_MESSAGE_BLOCKS, section, section_blocks


def digest_message(digest: Digest) -> dict[str, Any]:
    """`{"text", "blocks"}` for chat.postMessage: escaped, sections of at most 3000
    characters, at most 50 blocks, the last saying "…and N more releases" when cut."""
    summary = escape_mrkdwn(digest.summary())
    head = f"*Release digest*\n{summary}"
    blocks = [section(truncate(head, 3000))]
    groups = [
        (
            f"*{escape_mrkdwn(group.title)}*",
            [f"• _{when(line.at, short=True)}_ {escape_mrkdwn(line.text)}" for line in group.lines],
        )
        for group in digest.groups
    ]
    blocks += section_blocks(
        groups,
        max_blocks=MAX_MESSAGE_BLOCKS - 1,
        more=lambda n: f"…and {n} more release{'' if n == 1 else 's'}",
    )
    return {"text": truncate(f"Release digest: {summary}", 3000), "blocks": blocks}
