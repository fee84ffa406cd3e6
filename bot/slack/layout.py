"""Block Kit's limits, the small blocks every builder uses, and the one way Herald packs
mrkdwn lines into section blocks within those limits. No I/O.

The Slack stand-in checks messages against the same limits on its own
(standins/slack_limits.py), so a mistake here shows up there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.text import truncate

MAX_SECTION_CHARS = 3000  # a section's text
MAX_MESSAGE_BLOCKS = 50  # blocks in one message
MAX_HOME_BLOCKS = 100  # blocks in a Home tab
MAX_HEADER_CHARS = 150  # a header block's plain text
MAX_CONFIRM_CHARS = 300  # a confirmation dialog's text
MAX_FALLBACK_CHARS = MAX_SECTION_CHARS  # Herald's cap on a message's plain-text `text`

Block = dict[str, Any]
Group = tuple[str, Sequence[str]]  # a heading ("" for none) and the lines under it


def section(text: str, *, block_id: str | None = None) -> Block:
    """A mrkdwn section; text past Block Kit's limit is cut, ending with an ellipsis."""
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)},
    }
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_CHARS)},
    }


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def format_more(count: int, *, noun: str | None = None) -> str:
    """What stands in for what was left out: `…and 7 more`, or with a noun `…and 7 more
    changes` (`…and 1 more change`)."""
    if noun is None:
        return f"…and {count} more"
    return f"…and {count} more {noun}{'' if count == 1 else 's'}"


def pack_sections(
    groups: Sequence[Group],
    *,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    noun: str | None = None,
    more_inline: bool = False,
) -> list[Block]:
    """Lines packed into as few mrkdwn sections as fit: each group starts a new section (its
    heading repeated on each section it fills), a line too long for one section is cut, and
    when more than `max_blocks` sections would be needed the last says how many lines were
    left out (`format_more`). That line is a block of its own, or with `more_inline` it ends
    the last section kept (which is then cut at the limit if need be).
    """
    packed = _pack(groups)
    if len(packed) <= max_blocks:
        return [section("\n".join(lines)) for lines, _ in packed]
    kept = max_blocks if more_inline else max_blocks - 1
    left_out = sum(held for _, held in packed[kept:])
    more = format_more(left_out, noun=noun)
    blocks = [section("\n".join(lines)) for lines, _ in packed[:kept]]
    if more_inline:
        blocks[-1] = section("\n".join([*packed[kept - 1][0], more]))
    else:
        blocks.append(section(more))
    return blocks


def _pack(groups: Sequence[Group]) -> list[tuple[list[str], int]]:
    """Each section's lines (its heading first) and how many of them are not the heading."""
    packed: list[tuple[list[str], int]] = []
    for heading, lines in groups:
        head = [heading] if heading else []
        room = max(1, MAX_SECTION_CHARS - (len(heading) + 1 if heading else 0))
        current = list(head)
        for raw in lines:
            line = truncate(raw, room)
            if len(current) > len(head) and len("\n".join([*current, line])) > MAX_SECTION_CHARS:
                packed.append((current, len(current) - len(head)))
                current = list(head)
            current.append(line)
        if current:
            packed.append((current, len(current) - len(head)))
    return packed
