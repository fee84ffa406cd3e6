"""Two replicas writing at once, and writes that fail inside a burst: what each caller hears.

On PostgreSQL, writes that come together are committed together on each of a few threads,
so one replica's batch holds its rows' locks until all of it commits. A caller still hears
only its own outcome: its write landed, or it is told to try again (`ConcurrentWrite`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import Connection, insert, select, text, update

from bot.domain.ports import ConcurrentWrite, Ledger
from bot.slack.blocks import render_notice
from bot.store.database import Database, create_engine, sync_url
from bot.store.ledgers import LedgerFactory
from bot.store.migrate import upgrade
from bot.store.postgres_writer import PostgresWriter
from bot.store.release_rows import table_of
from bot.store.tables import InboxRow
from tests.store.support import FEED, OPS, Store, register
from tests.store.support import T0 as NOW

INBOX = table_of(InboxRow)


@pytest.fixture
async def other(store: Store) -> AsyncIterator[Store]:
    """A second replica: its own engine and threads, on the same database."""
    database = Database(
        create_engine(store.database.engine.url.render_as_string(hide_password=False))
    )
    ledgers = LedgerFactory(
        database=database,
        render=render_notice,
        channels={"feed": FEED, "ops": OPS},
        clock=store.clock,
    )
    try:
        yield Store(database=database, ledgers=ledgers, clock=store.clock)
    finally:
        await database.close()


def write_row(key: str) -> Callable[[Connection], str]:
    def work(connection: Connection) -> str:
        connection.execute(
            insert(INBOX).values(key=key, source="test", received_at=NOW, attempts=0, request=None)
        )
        return key

    return work


async def keys(store: Store) -> set[str]:
    return await keys_in(store.database)


async def keys_in(database: Database) -> set[str]:
    return await database.read_now(
        lambda connection: set(connection.execute(select(INBOX.c.key)).scalars())
    )


async def test_two_replicas_saving_the_same_release_each_land_or_are_told_to_retry(
    store: Store, other: Store
) -> None:
    release_id = (await register(store)).release.id

    async def save_again(ledger: Ledger) -> None:
        release = await ledger.get_release(release_id)
        assert release is not None
        await ledger.save_release(release)

    saves = [replica.ledgers.run(save_again) for _ in range(12) for replica in (store, other)]
    outcomes = await asyncio.gather(*saves, return_exceptions=True)

    landed = [o for o in outcomes if o is None]
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, ConcurrentWrite) for o in refused), refused
    async with store.ledgers() as ledger:
        release = await ledger.get_release(release_id)
    assert release is not None and release.revision == 1 + len(landed)


async def test_a_write_refused_by_the_database_in_a_burst_undoes_only_itself(
    store: Store,
) -> None:
    await store.database.write_now(write_row("taken"))
    writes = [write_row("taken" if n == 9 else f"k{n}") for n in range(30)]
    outcomes = await asyncio.gather(
        *(store.database.write_now(work) for work in writes), return_exceptions=True
    )
    assert [n for n, o in enumerate(outcomes) if isinstance(o, Exception)] == [9]
    assert await keys(store) == {"taken"} | {f"k{n}" for n in range(30) if n != 9}


async def test_a_write_that_swallows_its_refused_statement_does_not_undo_the_others(
    store: Store,
) -> None:
    await store.database.write_now(write_row("taken"))

    def swallow(connection: Connection) -> str:
        try:
            write_row("taken")(connection)
        except Exception:
            return "swallowed"
        return "written"

    writes = [write_row(f"k{n}") for n in range(29)] + [swallow]  # last of its batch
    await asyncio.gather(
        *(store.database.write_now(work) for work in writes), return_exceptions=True
    )
    assert await keys(store) == {"taken"} | {f"k{n}" for n in range(29)}


@pytest.mark.postgres
async def test_two_replicas_locking_rows_in_opposite_order_both_commit(
    postgres_url: str,
) -> None:
    """PostgreSQL breaks the deadlock by aborting one; that one is run again, and lands."""
    await asyncio.to_thread(upgrade, postgres_url)
    one, two = Database(create_engine(postgres_url)), Database(create_engine(postgres_url))
    try:
        await one.write_now(write_row("a"))
        await one.write_now(write_row("b"))
        both_hold_one = threading.Barrier(2, timeout=10)

        def bump(first: str, then: str) -> Callable[[Connection], int]:
            def work(connection: Connection) -> int:
                counted = update(INBOX).values(attempts=INBOX.c.attempts + 1)
                connection.execute(counted.where(INBOX.c.key == first))
                if not both_hold_one.broken:
                    # the first try only: each holds one row and wants the other's
                    with contextlib.suppress(threading.BrokenBarrierError):
                        both_hold_one.wait()
                    both_hold_one.abort()
                connection.execute(counted.where(INBOX.c.key == then))
                return 1

            return work

        landed = await asyncio.gather(one.write_now(bump("a", "b")), two.write_now(bump("b", "a")))
        assert list(landed) == [1, 1]
        attempts = await one.read_now(
            lambda connection: dict(connection.execute(select(INBOX.c.key, INBOX.c.attempts)).all())
        )
        assert attempts == {"a": 2, "b": 2}
    finally:
        await one.close()
        await two.close()


@pytest.mark.postgres
async def test_writes_and_reads_after_the_server_dropped_their_connections_land(
    postgres_url: str,
) -> None:
    """As after a restart or a failover of the server: each thread opens a new connection."""
    await asyncio.to_thread(upgrade, postgres_url)
    database = Database(create_engine(postgres_url))
    try:
        await asyncio.gather(*(database.write_now(write_row(f"before{n}")) for n in range(8)))
        assert len(await keys_in(database)) == 8
        drop_others = text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        async with database.transaction() as session:
            assert (await session.execute(drop_others)).scalar_one() >= 2  # a writer's, a reader's
        await asyncio.gather(*(database.write_now(write_row(f"after{n}")) for n in range(8)))
        assert await keys_in(database) == {
            f"{when}{n}" for when in ("before", "after") for n in range(8)
        }
    finally:
        await database.close()


@pytest.mark.postgres
async def test_every_writer_thread_reconnects_after_the_server_dropped_them(
    postgres_url: str,
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    writer = PostgresWriter(sync_url(postgres_url), threads=2)
    side_by_side = threading.Barrier(2, timeout=10)

    def on_both_threads(key: str) -> Callable[[Connection], str]:
        def work(connection: Connection) -> str:
            write_row(key)(connection)
            side_by_side.wait()  # so that each thread has its own connection
            return key

        return work

    async def both(one: str, two: str) -> list[str]:
        return list(await asyncio.gather(*(writer.run(on_both_threads(k)) for k in (one, two))))

    try:
        assert await both("a", "b") == ["a", "b"]
        await writer.run(
            lambda connection: connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        )
        assert await both("c", "d") == ["c", "d"]  # the dropped one reconnected
    finally:
        await writer.close()
