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
from bot.store.reports import Owed, ReportMessage, queue_owed

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
        owed = {
            key(o, b, at): Owed(self.channel, [self._message(o, b, at, now=now)])
            for o, b, at in owed_boundaries(calendar, now)
        }
        sent = await queue_owed(self.database, owed, now=now)
        if sent:
            self.wake()
        return sent

    def _message(
        self, occurrence: Occurrence, boundary: Boundary, at: datetime, *, now: datetime
    ) -> ReportMessage:
        late = f"Sent late: it {boundary.value} at {at:%H:%M} UTC." if now - at > _LATE else None
        claim = key(occurrence, boundary, at)
        body = {**self.render(occurrence, boundary, late), "metadata": _metadata(claim)}
        return ReportMessage(role=f"freeze_{boundary.value}", body=body)


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
