"""A scheduled report sent once per period: on time, or late after Herald was down.

Each run (at start, then every half minute) looks at the periods the schedule owes (those
fallen due since the schedule first ran, a few back at most), skips the claimed ones,
prepares the rest and claims each with its messages queued in one transaction
(bot/store/reports.py): a report that fails to prepare is not claimed and the next run
tries again; a queued one is delivered by the outbox, retried until Slack takes it. Two
replicas prepare the same period; one claim wins, so it is sent once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.ports import AuditLog
from bot.domain.reports.schedule import ReportSchedule, late_note
from bot.store.database import Database
from bot.store.reports import ReportMessage, claim_and_queue, claimed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    """One period of a report: its claim key, when it fell due, and the late note it carries."""

    key: str
    scheduled: datetime
    late: str | None = None


class Report(Protocol):
    @property
    def kind(self) -> str:
        """`digest`, `weekly`: names the report in logs and its schedule's claim."""
        ...

    def key(self, scheduled: datetime) -> str:
        """The claim key of the period that fell due at `scheduled`."""
        ...

    async def messages(self, period: Period) -> list[ReportMessage]:
        """The report of `period`, ready to queue."""
        ...


class ScheduledReport:
    """Sends `report` to `channel` once for every period `schedule` owes."""

    def __init__(
        self,
        *,
        report: Report,
        schedule: ReportSchedule,
        channel: str,
        database: Database,
        audit: AuditLog,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.report = report
        self._schedule = schedule
        self._channel = channel
        self._database = database
        self._audit = audit
        self._clock = clock
        self._wake = wake
        self._running_since: datetime | None = None
        self._first_run: datetime | None = None

    async def run(self) -> int:
        """Queue every owed period not claimed yet; how many this run queued. A store out of
        reach raises: the scheduler's wrapper logs and counts it, and the next run looks again."""
        now = self._clock()
        self._running_since = self._running_since or now
        since = await self._since(now)
        owed = {self.report.key(at): at for at in self._schedule.owed(now, since=since)}
        taken = await claimed(self._database, list(owed))
        sent = 0
        for key, scheduled in owed.items():
            if key not in taken:
                sent += await self._send(key, scheduled)
        if sent:
            self._wake()
        return sent

    async def _since(self, now: datetime) -> datetime:
        """When this report's schedule first ran anywhere: nothing before it is owed."""
        if self._first_run is None:
            claim = await self._audit.claim(
                key=f"{self.report.kind}:schedule", actor="herald", at=now
            )
            self._first_run = claim.at
        return self._first_run

    async def _send(self, key: str, scheduled: datetime) -> int:
        now = self._clock()
        assert self._running_since is not None
        late = late_note(scheduled, now=now, running_since=self._running_since)
        period = Period(key=key, scheduled=scheduled, late=late)
        extra = {"report": self.report.kind, "period": key, "channel": self._channel}
        try:
            messages = await self.report.messages(period)
        except Exception:
            log.exception("%s could not be prepared; the next run retries", key, extra=extra)
            return 0
        queued = await claim_and_queue(
            self._database, key=key, channel=self._channel, messages=messages, now=now
        )
        if queued:
            log.info("queued the %s%s", self.report.kind, " (late)" if late else "", extra=extra)
        return int(queued)


def report_metadata(period: Period) -> dict[str, object]:
    """Message metadata naming the period (the outbox adds its own id for reconciling)."""
    return {"event_type": "herald_report", "event_payload": {"period": period.key}}
