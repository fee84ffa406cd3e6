"""Watch rows: claimed by one runner at a time, handed on when a runner dies, never judged twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from bot.domain.watch.watch import WatchPurpose
from bot.store import watches
from tests.store.support import Store, register

LEASE = timedelta(seconds=60)


async def start_watching(store: Store, release_id: str) -> bool:
    now = store.clock()
    async with store.database.transaction() as session:
        return await watches.start_watch(
            session,
            release_id=release_id,
            service="webapp",
            env="prod",
            purpose=WatchPurpose.RELEASE,
            origin=now,
            ends_at=now + timedelta(minutes=15),
            due_at=now,
            now=now,
        )


async def watched_release(store: Store) -> str:
    release_id = (await register(store)).release.id
    assert await start_watching(store, release_id)
    return release_id


async def test_two_runners_claiming_at_once_get_the_watch_once(store: Store) -> None:
    await watched_release(store)
    claims = await asyncio.gather(
        *(
            watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
            for _ in range(2)
        )
    )
    assert sorted(len(c) for c in claims) == [0, 1]


async def test_a_runner_that_dies_hands_the_watch_on_and_its_late_save_is_dropped(
    store: Store,
) -> None:
    await watched_release(store)
    [first] = await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
    assert await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE) == []

    store.clock.advance(61)
    [second] = await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
    assert second.attempts == first.attempts + 1
    async with store.database.transaction() as session:
        stale = await watches.save_watch(
            session,
            watch=first,
            due_at=store.clock(),
            finished=None,
            reason=None,
            now=store.clock(),
        )
        fresh = await watches.save_watch(
            session,
            watch=second,
            due_at=store.clock(),
            finished=None,
            reason=None,
            now=store.clock(),
        )
    assert (stale, fresh) == (False, True)


async def test_a_release_has_one_watch_of_each_purpose(store: Store) -> None:
    release_id = await watched_release(store)
    assert await start_watching(store, release_id) is False


async def test_a_finished_watch_is_never_claimed_again(store: Store) -> None:
    await watched_release(store)
    [watch] = await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
    async with store.database.transaction() as session:
        await watches.save_watch(
            session,
            watch=replace(watch),
            due_at=store.clock(),
            finished="done",
            reason="over",
            now=store.clock(),
        )
    store.clock.advance(3600)
    assert await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE) == []


async def failures(store: Store) -> int:
    async with store.database.read() as session:
        return int((await session.execute(watches.failures_statement())).scalar_one())


async def test_an_evaluation_that_fails_past_the_watch_end_finishes_it_and_counts(
    store: Store,
) -> None:
    await watched_release(store)
    [watch] = await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
    failed = await watches.note_failure(
        database=store.database, watch=watch, reason="boom", now=store.clock(), finish=False
    )
    assert failed and await failures(store) == 1
    store.clock.advance(61)  # the lease runs out: a later tick takes it up again
    [again] = await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE)
    stale = await watches.note_failure(
        database=store.database, watch=watch, reason="late", now=store.clock(), finish=True
    )
    assert stale is False  # another runner holds it now
    assert await watches.note_failure(
        database=store.database, watch=again, reason="boom", now=store.clock(), finish=True
    )
    assert await failures(store) == 2
    store.clock.advance(3600)
    assert await watches.claim_due(database=store.database, now=store.clock(), lease=LEASE) == []
