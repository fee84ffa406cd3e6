"""Freeze announcements: when a freeze window begins and when it ends, one message in the feed,
sent once across restarts and replicas (claimed like a report period, bot/store/reports.py).

Each run (at start, then every half minute) looks back `LOOKBACK` for boundaries it owes; one
that passed while Herald was down longer than that is not announced (the gate and
`/deploy status` still say it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.freeze.book import FreezeBook
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import Occurrence
from bot.store.database import Database
from bot.store.reports import ReportMessage, claim_and_queue, claimed

LOOKBACK = timedelta(hours=1)
_LATE = timedelta(minutes=2)


class Boundary(StrEnum):
    BEGINS = "begins"
    ENDS = "ends"


# (the freeze, which boundary, the late note or None) → chat.postMessage's text and blocks
FreezeRenderer = Callable[[Occurrence, Boundary, str | None], dict[str, Any]]


@dataclass(frozen=True)
class FreezeAnnouncer:
    freezes: FreezeBook
    channel: str
    database: Database
    render: FreezeRenderer
    clock: Callable[[], datetime]
    wake: Callable[[], None] = lambda: None

    async def run(self) -> int:
        """Queue every boundary owed and not claimed yet; how many this run queued."""
        now = self.clock()
        calendar = await self.freezes.calendar(now=now)
        owed = {key(o, b, at): (o, b, at) for o, b, at in owed_boundaries(calendar, now)}
        taken = await claimed(self.database, list(owed))
        sent = 0
        for claim, (occurrence, boundary, at) in owed.items():
            if claim in taken:
                continue
            late = (
                f"Sent late: it {boundary.value} at {at:%H:%M} UTC." if now - at > _LATE else None
            )
            body = {**self.render(occurrence, boundary, late), "metadata": _metadata(claim)}
            message = ReportMessage(role=f"freeze_{boundary.value}", body=body)
            queued = await claim_and_queue(
                self.database, key=claim, channel=self.channel, messages=[message], now=now
            )
            sent += int(queued)
        if sent:
            self.wake()
        return sent


def owed_boundaries(
    calendar: FreezeCalendar, now: datetime
) -> list[tuple[Occurrence, Boundary, datetime]]:
    since = now - LOOKBACK
    found = []
    for occurrence in calendar.between(None, None, start=since, end=now):
        if since < occurrence.start <= now:
            found.append((occurrence, Boundary.BEGINS, occurrence.start))
        if since < occurrence.end <= now:
            found.append((occurrence, Boundary.ENDS, occurrence.end))
    return sorted(found, key=lambda owed: owed[2])


def key(occurrence: Occurrence, boundary: Boundary, at: datetime) -> str:
    return f"freeze:{occurrence.name}:{occurrence.start:%Y%m%dT%H%M}:{boundary.value}"


def _metadata(claim: str) -> dict[str, object]:
    return {"event_type": "herald_freeze", "event_payload": {"period": claim}}
