"""The inbox: a Slack retry or replay of a request Herald already acted on is dropped."""

from __future__ import annotations

import asyncio

from bot.store.inbox import record_once
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
