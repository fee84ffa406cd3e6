"""Block Kit's limits, and packing mrkdwn lines into section blocks within them. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.text import truncate

MAX_SECTION_CHARS = 3000  # Block Kit: a section's text
MAX_MESSAGE_BLOCKS = 50  # Block Kit: blocks in one message


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def section_blocks(
    groups: Sequence[tuple[str, Sequence[str]]],
    *,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int = MAX_SECTION_CHARS,
    more: Callable[[int], str] = lambda n: f"…and {n} more",
) -> list[dict[str, Any]]:
    """Mrkdwn section blocks: each group (heading, lines) starts a new section, lines are
    packed into sections of at most `max_chars`, a line too long for one is cut, and when
    more than `max_blocks` would be needed the last block says how many lines were left out.
    """
    packed: list[tuple[str, int]] = []  # (text, how many lines it holds)
    for heading, lines in groups:
        text, held = heading, 0
        for line in lines:
            room = max_chars - (len(heading) + 1 if heading else 0)
            line = truncate(line, max(1, room))
            candidate = f"{text}\n{line}" if text else line
            if len(candidate) > max_chars and held:
                packed.append((text, held))
                text, held = (f"{heading}\n{line}" if heading else line), 1
            else:
                text, held = candidate, held + 1
        if text:
            packed.append((text, held))
    if len(packed) <= max_blocks:
        return [section(text) for text, _ in packed]
    kept, dropped = packed[: max_blocks - 1], packed[max_blocks - 1 :]
    left_out = sum(held for _, held in dropped)
    return [*(section(text) for text, _ in kept), section(more(left_out))]
