"""The inbox: a Slack retry or replay of a request Herald already acted on is dropped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.store.inbox import claim_pending, finish, record_once, release_claims, renew_claims
from bot.store.tables import InboxRow
from tests.store.support import Store, count


async def seen_first(store: Store, key: str) -> bool:
    return await record_once(database=store.database, key=key, source="slack", now=store.clock())


async def test_a_key_is_new_once(store: Store) -> None:
    assert await seen_first(store, "slack:event:Ev01")
    assert not await seen_first(store, "slack:event:Ev01")
    store.clock.advance(300)  # Slack's 5-minute retry
    assert not await seen_first(store, "slack:event:Ev01")
    assert await seen_first(store, "slack:event:Ev02")
    assert await count(store.database, InboxRow) == 2


async def test_concurrent_deliveries_of_one_request_act_once(store: Store) -> None:
    results = await asyncio.gather(*(seen_first(store, "slack:event:Ev03") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await count(store.database, InboxRow, key="slack:event:Ev03") == 1


def test_long_keys_that_differ_only_at_the_end_stay_distinct() -> None:
    from bot.store.inbox import MAX_KEY, storage_key

    base = "am:" + "g" * 300
    firing, resolved = storage_key(base + ":firing"), storage_key(base + ":resolved")
    assert firing != resolved
    assert len(firing) <= MAX_KEY and len(resolved) <= MAX_KEY
    assert storage_key("slack:event:Ev1") == "slack:event:Ev1"


REQUEST = {"command": "/deploy", "text": "promote webapp", "response_url": "https://x"}
GRACE = timedelta(seconds=30)


async def keep(store: Store, key: str, *, claimed_by: str | None = None) -> None:
    assert await record_once(
        database=store.database,
        key=key,
        source="slack",
        now=store.clock(),
        request=REQUEST,
        claimed_by=claimed_by,
    )


async def claim(store: Store, worker: str) -> list[tuple[str, int]]:
    found = await claim_pending(
        database=store.database,
        worker=worker,
        now=store.clock(),
        stale_before=store.clock() - GRACE,
        limit=10,
    )
    return [(item.key, item.attempts) for item in found]


async def test_kept_requests_are_handed_out_once_and_finished_ones_never(store: Store) -> None:
    for key in ("slack:trigger:T1", "slack:trigger:T2"):
        await keep(store, key)
    await keep(store, "slack:trigger:T3", claimed_by="host:1")  # carried out by its ack's process
    assert await seen_first(store, "slack:event:Ev9")  # owes no work: never handed out
    await finish(database=store.database, key="slack:trigger:T2", now=store.clock())

    results = await asyncio.gather(claim(store, "a"), claim(store, "b"), claim(store, "c"))
    assert sorted(key for keys in results for key in keys) == [("slack:trigger:T1", 1)]
    assert await claim(store, "d") == []
    assert await count(store.database, InboxRow, request=None) == 2  # T2 done, Ev9


async def test_a_claim_kept_renewed_stays_and_one_left_stale_is_taken_once_more(
    store: Store,
) -> None:
    await keep(store, "slack:trigger:Alive", claimed_by="host:1")
    await keep(store, "slack:trigger:Dead", claimed_by="host:2")
    for _ in range(3):  # host:1 renews every 10 s; host:2 died
        store.clock.advance(10)
        await renew_claims(database=store.database, worker="host:1", now=store.clock())
    store.clock.advance(5)
    assert await claim(store, "host:3") == [("slack:trigger:Dead", 2)]
    assert await claim(store, "host:4") == []


async def test_a_dead_workers_claims_are_handed_out_at_once(store: Store) -> None:
    await keep(store, "slack:trigger:T1")
    assert await claim(store, "host:7") == [("slack:trigger:T1", 1)]
    assert await release_claims(database=store.database, worker="host:7") == 1
    assert await claim(store, "host:8") == [("slack:trigger:T1", 2)]
    await finish(database=store.database, key="slack:trigger:T1", now=store.clock())
    assert await release_claims(database=store.database, worker="host:8") == 0
