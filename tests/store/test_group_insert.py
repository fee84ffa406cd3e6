"""Many requests arriving at once are recorded in one commit, and each learns whether it was
the first with its key — the same answers one-at-a-time inserts give."""

from __future__ import annotations

import asyncio

from bot.store.inbox import record_once
from bot.store.tables import InboxRow
from tests.store.support import Store, count


async def test_a_burst_is_recorded_once_per_key_and_each_caller_hears_its_answer(
    store: Store,
) -> None:
    keys = [f"slack:trigger:T{n % 40}" for n in range(120)]  # 40 keys, each sent three times

    async def record(key: str) -> bool:
        return await record_once(
            database=store.database, key=key, source="slack", now=store.clock()
        )

    answers = await asyncio.gather(*(record(key) for key in keys))
    firsts = {key for key, new in zip(keys, answers, strict=True) if new}
    assert sum(answers) == 40 and len(firsts) == 40
    assert await count(store.database, InboxRow) == 40
    assert not await record("slack:trigger:T7")  # and later ones are still duplicates
