"""In-memory implementations of the domain's ports, for tests without a database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.domain.approval.policy import Need
from bot.domain.approval.votes import Approval, Vote
from bot.domain.checkup.offsets import DEFAULT_OFFSETS
from bot.domain.checkup.verdict import Color
from bot.domain.incident.model import Incident
from bot.domain.paging import ChangeEvent, Page
from bot.domain.ports import ConcurrentWrite, Ledger
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, RecordedEvent, Release
from bot.domain.watch.watch import Watch, WatchPurpose

T = TypeVar("T")


class MemoryLedger:
    """A Ledger over dicts. Writes land only when the transaction ends without an error."""

    def __init__(self) -> None:
        self.releases: dict[str, Release] = {}
        self.events: list[RecordedEvent] = []
        self.outbox: list[Notice] = []
        self.checkups: list[tuple[str, datetime]] = []
        self.finished: dict[int, Color] = {}
        self.pages: list[Page] = []
        self.resolved: list[str] = []
        self.changes: list[ChangeEvent] = []
        self.watches: list[tuple[str, WatchPurpose, datetime]] = []
        self.approvals: dict[str, Approval] = {}
        self.incidents: dict[str, Incident] = {}

    async def get_release(self, release_id: str) -> Release | None:
        return self.releases.get(release_id)

    async def add_release(self, release: Release) -> None:
        self.releases[release.id] = release

    async def save_release(self, release: Release) -> None:
        if self.releases[release.id].revision != release.revision:
            raise ConcurrentWrite(release.id)
        self.releases[release.id] = replace(release, revision=release.revision + 1)

    async def get_event(self, *, release_id: str, event: EventType) -> RecordedEvent | None:
        return next(
            (e for e in self.events if e.release_id == release_id and e.type is event), None
        )

    async def find_event_by_key(self, key: str) -> RecordedEvent | None:
        return next((e for e in self.events if e.idempotency_key == key), None)

    async def add_event(self, event: RecordedEvent) -> None:
        self.events.append(event)

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        self.outbox.extend(notices)

    async def schedule_checkups(
        self, *, release: Release, deployed_at: datetime
    ) -> list[tuple[str, list[timedelta]]]:
        self.checkups.extend((release.id, deployed_at + o) for o in DEFAULT_OFFSETS)
        return []

    async def finish_checkup(
        self,
        *,
        checkup_id: int,
        color: Color,
        result: dict[str, Any],
        rollback_pending: bool = False,
    ) -> None:
        self.finished[checkup_id] = color

    async def keep_rollback_plan(self, *, checkup_id: int, plan: str) -> None:
        return None

    async def finish_rollback(self, *, checkup_id: int, outcome: str) -> None:
        return None

    async def enqueue_page(self, *, release_id: str, page: Page, deadline: datetime) -> None:
        if not any(p.dedup_key == page.dedup_key for p in self.pages):
            self.pages.append(page)

    async def resolve_pages(self, *, release_id: str, deadline: datetime) -> None:
        self.resolved.append(release_id)

    async def enqueue_change(
        self, *, release_id: str, change: ChangeEvent, deadline: datetime
    ) -> None:
        self.changes.append(change)

    async def start_watch(
        self, *, release: Release, purpose: WatchPurpose, origin: datetime
    ) -> None:
        self.watches.append((release.id, purpose, origin))

    async def save_watch(
        self,
        *,
        watch: Watch,
        due_at: datetime,
        finished: str | None,
        reason: str | None,
        failed: bool = False,
    ) -> bool:
        return True

    async def note_alert_resolved(self, *, release_id: str, at: datetime) -> bool:
        return False

    async def watching_recovery(self, release_id: str) -> bool:
        return False

    async def open_approval(self, *, release_id: str, need: Need) -> None:
        self.approvals[release_id] = Approval(release_id, need)

    async def lock_approval(self, release_id: str) -> Approval | None:
        return self.approvals.get(release_id)

    async def add_vote(self, *, approval: Approval, vote: Vote) -> None:
        self.approvals[approval.release_id] = approval

    async def lock_incident(self, release_id: str) -> Incident | None:
        return self.incidents.get(release_id)

    async def save_incident(self, incident: Incident, *, new: bool) -> None:
        if new and incident.release_id in self.incidents:
            raise ConcurrentWrite(incident.release_id)
        self.incidents[incident.release_id] = incident

    async def fixed_by(self, release: Release) -> list[str]:
        return [
            rid
            for rid, incident in self.incidents.items()
            if incident.fix_forward in (release.id, release.version) and rid != release.id
        ]

    async def claim_approval_post(self, release_id: str) -> bool:
        approval = self.approvals[release_id]
        self.approvals[release_id] = replace(approval, posted=True)
        return not approval.posted


class MemoryLedgers:
    """A LedgerFactory handing out one shared MemoryLedger."""

    def __init__(self) -> None:
        self.ledger = MemoryLedger()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[MemoryLedger]:
        yield self.ledger

    async def run(self, use_case: Callable[[Ledger], Awaitable[T]]) -> T:
        return await use_case(self.ledger)


class ContendedLedgers:
    """A LedgerFactory whose every transaction loses to a concurrent writer: the use case runs
    on an empty MemoryLedger, then the commit raises ConcurrentWrite."""

    def __init__(self) -> None:
        self.attempts = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[MemoryLedger]:
        self.attempts += 1
        yield MemoryLedger()
        raise ConcurrentWrite("a concurrent writer committed first")

    async def run(self, use_case: Callable[[Ledger], Awaitable[T]]) -> T:
        async with self() as ledger:
            return await use_case(ledger)
