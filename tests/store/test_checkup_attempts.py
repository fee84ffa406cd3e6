"""A checkup whose judging failed: claimable again only after its backoff, and, given up on,
finished without a verdict (counted as failed) and never claimed again."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.checkup.checkup import Checkup
from bot.domain.release.lifecycle import EventType
from bot.store import checkups
from bot.store.metrics_snapshot import take_snapshot
from tests.store.support import Store, advance, register

LEASE = timedelta(minutes=5)


async def claim(store: Store) -> list[Checkup]:
    return await checkups.claim_due(database=store.database, now=store.clock(), lease=LEASE)


async def first_checkup_due(store: Store) -> Checkup:
    release_id = (await register(store)).release.id
    await advance(store, release_id, EventType.STARTED, EventType.DEPLOYED)
    store.clock.advance(16 * 60)  # +15m is due
    [first] = await claim(store)
    return first


async def test_a_failed_checkup_comes_back_only_after_its_backoff(store: Store) -> None:
    first = await first_checkup_due(store)
    retry_at = store.clock() + timedelta(seconds=30)
    await checkups.retry_checkup(database=store.database, checkup_id=first.id, at=retry_at)
    store.clock.advance(10)
    assert await claim(store) == []
    store.clock.advance(21)
    [again] = await claim(store)
    assert (again.id, again.attempts) == (first.id, 2)


async def test_a_checkup_given_up_on_counts_as_failed_and_never_comes_back(store: Store) -> None:
    first = await first_checkup_due(store)
    await checkups.abandon_checkup(
        database=store.database, checkup_id=first.id, reason="boom", now=store.clock()
    )
    store.clock.advance(3600)  # +30m and +1h fall due; +15m does not come back
    assert first.id not in {c.id for c in await claim(store)}
    snapshot = await take_snapshot(database=store.database, now=store.clock())
    assert snapshot.checkups.failed == 1
