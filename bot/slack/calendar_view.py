"""`/deploy calendar`: the rolling window, a heading per day (pure Block Kit)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from bot.domain.calendar.entries import Entry, Kind, Window
from bot.slack.layout import Group, pack_sections, section
from bot.slack.mrkdwn import escape_mrkdwn, local_time

_MARK = {Kind.PLANNED: ":spiral_calendar_pad:", Kind.FREEZE: ":snowflake:"}
_OUTCOME = {
    "failed": ":x:",
    "rolled_back": ":leftwards_arrow_with_hook:",
    "recovered": ":white_check_mark:",
}


def calendar_message(
    entries: Sequence[Entry], *, window: Window, service: str | None, public: bool
) -> dict[str, Any]:
    whose = escape_mrkdwn(service) if service else "all services"
    head = f"*Release calendar* — {whose}, {window.start:%a %d %b} to {window.end:%a %d %b}"
    groups: list[Group] = [
        (f"*{day}*", [_line(entry) for entry in day_entries])
        for day, day_entries in groupby(entries, key=lambda e: f"{e.start:%a %d %b}")
    ]
    blocks = [section(head), *pack_sections(groups, max_blocks=45, noun="entry")]
    if not entries:
        blocks.append(section("Nothing planned, frozen or shipped in this window."))
    return {
        "response_type": "in_channel" if public else "ephemeral",
        "text": f"Release calendar: {len(entries)} entries",
        "blocks": blocks,
    }


def _line(entry: Entry) -> str:
    mark = _MARK.get(entry.kind) or _OUTCOME.get(entry.outcome or "", ":rocket:")
    when = local_time(entry.start)
    until = f" until {local_time(entry.end)}" if entry.end is not None else ""
    return f"{mark} {when}{until} — {escape_mrkdwn(entry.title)}"
