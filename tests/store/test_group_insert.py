"""Many requests arriving at once are recorded in one commit, and each learns whether it was
the first with its key — the same answers one-at-a-time inserts give."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bot.store.database import Database, create_engine
from bot.store.inbox import record_once
from bot.store.migrate import upgrade
from bot.store.tables import InboxRow
from tests.store.support import Store, count

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


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


async def test_a_row_written_on_the_fast_path_reads_back_as_one_written_by_the_orm(
    store: Store,
) -> None:
    request = {"command": "/deploy", "text": "status webapp", "user": "Zoë ✓"}
    assert await record_once(
        database=store.database,
        key="slack:trigger:fast",
        source="slack",
        now=store.clock(),
        request=request,
        claimed_by="host:1",
    )
    async with store.database.transaction() as session:
        session.add(
            InboxRow(
                key="slack:trigger:orm",
                source="slack",
                received_at=store.clock(),
                request=request,
                claimed_by="host:1",
                claimed_at=store.clock(),
                attempts=1,
            )
        )
    async with store.database.read() as session:
        fast = await session.get(InboxRow, "slack:trigger:fast")
        orm = await session.get(InboxRow, "slack:trigger:orm")
        stored = (
            await session.execute(
                text("SELECT received_at, claimed_at, request FROM inbox ORDER BY key")
            )
        ).all()
    assert fast is not None and orm is not None
    assert fast.model_dump(exclude={"key"}) == orm.model_dump(exclude={"key"})
    assert stored[0] == stored[1]  # the same text in the file, not only the same values


async def test_an_ack_waits_out_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'herald.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(create_engine(url))
    assert await database.ping()  # Herald's engine has put the file in WAL mode
    other = sqlite3.connect(tmp_path / "herald.db", isolation_level=None)  # a worker, say
    other.execute("BEGIN IMMEDIATE")
    try:
        recorded = asyncio.create_task(
            record_once(database=database, key="slack:trigger:T1", source="slack", now=NOW)
        )
        await asyncio.sleep(0.2)
        assert not recorded.done()  # it waits for the lock ...
        other.execute("COMMIT")
        assert await asyncio.wait_for(recorded, 5)  # ... and takes it once it is free
        assert await count(database, InboxRow) == 1
    finally:
        other.close()
        await database.close()
