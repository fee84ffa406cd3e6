"""The inbox: a Slack retry or replay of a request Herald already acted on is dropped."""

from __future__ import annotations

import asyncio

from bot.store.inbox import claim_unfinished, finish, record_once
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


async def test_unfinished_requests_are_handed_out_once_and_finished_ones_never(
    store: Store,
) -> None:
    request = {"command": "/deploy", "text": "promote webapp", "response_url": "https://x"}
    for key in ("slack:trigger:T1", "slack:trigger:T2", "slack:trigger:T3"):
        assert await record_once(
            database=store.database, key=key, source="slack", now=store.clock(), request=request
        )
    assert await seen_first(store, "slack:event:Ev9")  # owes no work: never handed out
    await finish(database=store.database, key="slack:trigger:T2", now=store.clock())
    store.clock.advance(60)

    async def claim() -> list[str]:
        found = await claim_unfinished(
            database=store.database,
            received_before=store.clock(),
            now=store.clock(),
            skip={"slack:trigger:T3"},  # still running in this process
        )
        return [item.key for item in found]

    results = await asyncio.gather(claim(), claim(), claim())
    assert sorted(key for keys in results for key in keys) == ["slack:trigger:T1"]
    assert await claim() == []
    assert await count(store.database, InboxRow, request=None) == 2  # T2 done, Ev9
