"""The Ledger over SQL: what a use case writes survives a reload, commits whole or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import col, select

from bot.domain.approval.policy import Need
from bot.domain.approval.votes import Approval, Vote
from bot.domain.checkup.verdict import Color
from bot.domain.incident.model import Incident
from bot.domain.paging import ChangeEvent, Page
from bot.domain.ports import ConcurrentWrite, Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, RecordedEvent, Release
from bot.domain.release.recording import Outcome, record_event, register_release
from bot.domain.watch.watch import Watch, WatchPurpose
from bot.slack.blocks import render_notice
from bot.store.ledgers import LedgerFactory
from bot.store.tables import EventRow, OutboxRow, ReleaseRow
from tests.store.support import (
    FEED,
    OPS,
    T0,
    Store,
    advance,
    count,
    is_utc,
    manifest,
    recorder,
    register,
    run,
)

CEST = timezone(timedelta(hours=2))


class Boom(Exception):
    pass


async def outbox_rows(store: Store, release_id: str) -> list[tuple[str, str, str | None]]:
    async with store.database.transaction() as session:
        rows = await session.execute(
            select(col(OutboxRow.channel), col(OutboxRow.role), col(OutboxRow.event_type))
            .where(col(OutboxRow.release_id) == release_id)
            .order_by(col(OutboxRow.id))
        )
        return [(channel, role, event) for channel, role, event in rows]


async def test_release_survives_a_reload(store: Store) -> None:
    original = manifest()
    registered = await register(store, original)
    assert registered.created
    store.clock.advance(60)
    started_at = datetime(2025, 10, 2, 22, 31, 5, 250000, tzinfo=CEST)  # 20:31:05.25 UTC
    await run(
        store,
        recorder(
            store,
            original.id,
            EventRequest(
                event=EventType.STARTED,
                at=started_at,
                idempotency_key="ci-run-881:started",
                links={"run": "https://ci.example.com/runs/881"},
            ),
        ),
    )
    await run(
        store,
        recorder(
            store, original.id, EventRequest(event=EventType.DEPLOYED, lead_time_seconds=5400.5)
        ),
    )

    async with store.ledgers() as ledger:
        release = await ledger.get_release(original.id)
        started = await ledger.find_event_by_key("ci-run-881:started")
        planned = await ledger.get_event(release_id=original.id, event=EventType.PLANNED)
    assert release is not None and started is not None and planned is not None

    assert release.state is EventType.DEPLOYED
    assert release.revision == 3
    assert release.manifest == original
    assert release.digest == original.digest()
    assert release.manifest.model_extra == {
        "x_team": {"slack": "#billing", "oncall": ["ana", "bo"]}
    }
    assert release.manifest.git.model_extra == {"x_pipeline_id": 4711}
    assert release.received_at == T0
    assert release.times == {
        EventType.PLANNED: original.created_at,
        EventType.STARTED: started_at,
        EventType.DEPLOYED: T0 + timedelta(seconds=60),
    }
    assert all(is_utc(at) for at in [release.received_at, *release.times.values()])
    assert release.lead_time_seconds == 5400.5
    assert release.links()["run"] == "https://ci.example.com/runs/881"

    assert started.type is EventType.STARTED
    assert started.at == started_at and is_utc(started.at)
    assert is_utc(started.received_at)
    assert started.payload.links["run"] == "https://ci.example.com/runs/881"
    assert planned.payload.at == original.created_at and is_utc(planned.payload.at)

    assert await outbox_rows(store, original.id) == [
        (FEED, "feed_root", EventType.PLANNED),
        (FEED, "feed_thread_details", EventType.PLANNED),
        (FEED, "feed_event", EventType.STARTED),
        (FEED, "feed_event", EventType.DEPLOYED),
        (FEED, "feed_thread_release_notes", None),
    ]


async def test_same_manifest_twice_is_one_release(store: Store) -> None:
    first = await register(store)
    again = await register(store)
    assert first.created and not again.created
    assert again.release.id == first.release.id
    assert await count(store.database, ReleaseRow) == 1
    assert await count(store.database, OutboxRow) == len(await outbox_rows(store, first.release.id))
    assert await count(store.database, OutboxRow) == 2


async def test_failure_inside_the_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(Boom):
        async with store.ledgers() as ledger:
            outcome = await register_release(ledger=ledger, manifest=manifest(), now=T0)
            assert outcome.created
            raise Boom
    assert await count(store.database, ReleaseRow) == 0
    assert await count(store.database, EventRow) == 0
    assert await count(store.database, OutboxRow) == 0


async def test_a_use_case_run_at_once_fails_whole_and_writes_nothing(store: Store) -> None:
    async def register_then_fail(ledger: Ledger) -> Outcome:
        outcome = await register_release(ledger=ledger, manifest=manifest(), now=T0)
        assert outcome.created
        raise Boom

    with pytest.raises(Boom):
        await store.ledgers.run(register_then_fail)
    assert await count(store.database, ReleaseRow) == 0
    assert await count(store.database, OutboxRow) == 0


async def test_a_use_case_waiting_on_anything_but_the_ledger_is_refused(store: Store) -> None:
    """Nothing but the ledger inside a transaction: a network call there would hold SQLite's
    write lock for its whole round trip."""

    async def register_then_wait(ledger: Ledger) -> Outcome:
        outcome = await register_release(ledger=ledger, manifest=manifest(), now=T0)
        await asyncio.sleep(0.01)  # e.g. a call to Argo CD
        return outcome

    with pytest.raises(RuntimeError, match="besides the ledger"):
        await store.ledgers.run(register_then_wait)
    assert await count(store.database, ReleaseRow) == 0


async def test_failed_event_rolls_back_with_its_messages(store: Store) -> None:
    release_id = (await register(store)).release.id
    await advance(store, release_id, EventType.STARTED)
    before = await count(store.database, OutboxRow)
    with pytest.raises(Boom):
        async with store.ledgers() as ledger:
            request = EventRequest(event=EventType.FAILED, symptom="5xx at 30%")
            await record_event(ledger=ledger, release_id=release_id, request=request, now=T0)
            raise Boom
    async with store.ledgers() as ledger:
        release = await ledger.get_release(release_id)
    assert release is not None and release.state is EventType.STARTED
    assert await count(store.database, EventRow, type=EventType.FAILED) == 0
    assert await count(store.database, OutboxRow) == before


async def test_same_event_twice_is_refused_by_the_database(store: Store) -> None:
    outcome = await register(store)
    duplicate = RecordedEvent(
        release_id=outcome.release.id,
        type=EventType.PLANNED,
        at=T0,
        payload=outcome.event.payload,
        received_at=T0,
        idempotency_key="another-key",
    )
    with pytest.raises(ConcurrentWrite):
        async with store.ledgers() as ledger:
            await ledger.add_event(duplicate)
    assert await count(store.database, EventRow) == 1


async def test_stale_revision_is_refused(store: Store) -> None:
    release_id = (await register(store)).release.id
    async with store.ledgers() as ledger:
        stale = await ledger.get_release(release_id)
    assert stale is not None
    moved = stale.advanced(EventType.STARTED, T0, lead_time=None, links={})
    async with store.ledgers() as ledger:
        await ledger.save_release(moved)
    with pytest.raises(ConcurrentWrite):
        async with store.ledgers() as ledger:
            await ledger.save_release(moved)
    async with store.ledgers() as ledger:
        current = await ledger.get_release(release_id)
    assert current is not None and current.revision == stale.revision + 1


class MeetAfterRead:
    """A Ledger that waits, after reading the release, until every writer has read it too."""

    def __init__(self, inner: Ledger, barrier: asyncio.Barrier | None) -> None:
        self._inner = inner
        self._barrier = barrier

    async def get_release(self, release_id: str) -> Release | None:
        release = await self._inner.get_release(release_id)
        if self._barrier is not None:
            await asyncio.wait_for(self._barrier.wait(), timeout=10)
        return release

    async def add_release(self, release: Release) -> None:
        await self._inner.add_release(release)

    async def save_release(self, release: Release) -> None:
        await self._inner.save_release(release)

    async def get_event(self, *, release_id: str, event: EventType) -> RecordedEvent | None:
        return await self._inner.get_event(release_id=release_id, event=event)

    async def find_event_by_key(self, key: str) -> RecordedEvent | None:
        return await self._inner.find_event_by_key(key)

    async def add_event(self, event: RecordedEvent) -> None:
        await self._inner.add_event(event)

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        await self._inner.enqueue(notices)

    async def schedule_checkups(
        self, *, release: Release, deployed_at: datetime
    ) -> list[tuple[str, list[timedelta]]]:
        return await self._inner.schedule_checkups(release=release, deployed_at=deployed_at)

    async def finish_checkup(
        self,
        *,
        checkup_id: int,
        color: Color,
        result: dict[str, Any],
        rollback_pending: bool = False,
    ) -> None:
        await self._inner.finish_checkup(
            checkup_id=checkup_id, color=color, result=result, rollback_pending=rollback_pending
        )

    async def keep_rollback_plan(self, *, checkup_id: int, plan: str) -> None:
        await self._inner.keep_rollback_plan(checkup_id=checkup_id, plan=plan)

    async def finish_rollback(self, *, checkup_id: int, outcome: str) -> None:
        await self._inner.finish_rollback(checkup_id=checkup_id, outcome=outcome)

    async def enqueue_page(self, *, release_id: str, page: Page, deadline: datetime) -> None:
        await self._inner.enqueue_page(release_id=release_id, page=page, deadline=deadline)

    async def resolve_pages(self, *, release_id: str, deadline: datetime) -> None:
        await self._inner.resolve_pages(release_id=release_id, deadline=deadline)

    async def enqueue_change(
        self, *, release_id: str, change: ChangeEvent, deadline: datetime
    ) -> None:
        await self._inner.enqueue_change(release_id=release_id, change=change, deadline=deadline)

    async def start_watch(
        self, *, release: Release, purpose: WatchPurpose, origin: datetime
    ) -> None:
        await self._inner.start_watch(release=release, purpose=purpose, origin=origin)

    async def save_watch(
        self,
        *,
        watch: Watch,
        due_at: datetime,
        finished: str | None,
        reason: str | None,
        failed: bool = False,
    ) -> bool:
        return await self._inner.save_watch(
            watch=watch, due_at=due_at, finished=finished, reason=reason, failed=failed
        )

    async def note_alert_resolved(self, *, release_id: str, at: datetime) -> bool:
        return await self._inner.note_alert_resolved(release_id=release_id, at=at)

    async def watching_recovery(self, release_id: str) -> bool:
        return await self._inner.watching_recovery(release_id)

    async def open_approval(self, *, release_id: str, need: Need) -> None:
        await self._inner.open_approval(release_id=release_id, need=need)

    async def lock_approval(self, release_id: str) -> Approval | None:
        return await self._inner.lock_approval(release_id)

    async def add_vote(self, *, approval: Approval, vote: Vote) -> None:
        await self._inner.add_vote(approval=approval, vote=vote)

    async def claim_approval_post(self, release_id: str) -> bool:
        return await self._inner.claim_approval_post(release_id)

    async def lock_incident(self, release_id: str) -> Incident | None:
        return await self._inner.lock_incident(release_id)

    async def save_incident(self, incident: Incident, *, new: bool) -> None:
        await self._inner.save_incident(incident, new=new)

    async def fixed_by(self, release: Release) -> list[str]:
        return await self._inner.fixed_by(release)


async def test_concurrent_writers_of_one_event_make_one_event(store: Store) -> None:
    release_id = (await register(store)).release.id
    request = EventRequest(event=EventType.STARTED)
    # SQLite takes its write lock at BEGIN, so a second writer waits there: no meeting point
    barrier = None if store.database.sqlite else asyncio.Barrier(2)

    async def attempt() -> Outcome:
        async with store.ledgers() as ledger:
            return await record_event(
                ledger=MeetAfterRead(ledger, barrier),
                release_id=release_id,
                request=request,
                now=store.clock(),
            )

    results = await asyncio.gather(attempt(), attempt(), return_exceptions=True)
    wins = [r for r in results if isinstance(r, Outcome) and r.created]
    losses = [r for r in results if not (isinstance(r, Outcome) and r.created)]
    assert len(wins) == 1 and len(losses) == 1
    loss = losses[0]
    if store.database.sqlite:  # the second writer waited at BEGIN, then read the event
        assert isinstance(loss, Outcome) and not loss.created
    else:  # both read before either wrote: the second write is refused
        assert isinstance(loss, ConcurrentWrite)

    retried = await run(store, recorder(store, release_id, request))
    assert not retried.created
    assert await count(store.database, EventRow, release_id=release_id, type=request.event) == 1
    assert await count(store.database, OutboxRow, channel=FEED, event_type=request.event) == 1


async def test_concurrent_registrations_make_one_release(store: Store) -> None:
    release = manifest()
    barrier = None if store.database.sqlite else asyncio.Barrier(2)

    async def attempt() -> Outcome:
        async with store.ledgers() as ledger:
            return await register_release(
                ledger=MeetAfterRead(ledger, barrier), manifest=release, now=store.clock()
            )

    results = await asyncio.gather(attempt(), attempt(), return_exceptions=True)
    assert sum(isinstance(r, Outcome) and r.created for r in results) == 1
    assert all(isinstance(r, Outcome | ConcurrentWrite) for r in results), results
    assert not (await register(store, release)).created
    assert await count(store.database, ReleaseRow) == 1
    assert await count(store.database, EventRow) == 1
    assert await count(store.database, OutboxRow, role="feed_root") == 1


async def test_only_a_transaction_that_queues_a_message_wakes_the_delivery(store: Store) -> None:
    wakes: list[set[str]] = []
    ledgers = LedgerFactory(
        database=store.database,
        render=render_notice,
        channels={"feed": FEED, "ops": OPS},
        clock=store.clock,
        on_commit=lambda channels: wakes.append(set(channels)),
    )
    waking = Store(database=store.database, ledgers=ledgers, clock=store.clock)
    original = manifest()
    await register(waking, original)
    assert wakes == [{FEED}]  # the announcement is queued: the feed's sender looks now

    async with ledgers() as ledger:  # a watch reading its release, say
        assert await ledger.get_release(original.id) is not None
    assert wakes == [{FEED}]  # nothing new to deliver: the workers sleep on
