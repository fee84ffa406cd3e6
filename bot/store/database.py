"""Engines and sessions: one async engine per process, SQLite or PostgreSQL by URL.

The async engine serves the session paths (`transaction()`, `read()`). The short writes and
reads that are a function of a connection (`write_now`, `read_now`) run instead on threads
with synchronous connections to the same database — SQLite's writer and reader threads, or
a few PostgreSQL threads — since there a transaction costs one hop, not one per statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from bot.store.checkpointer import Checkpointer
from bot.store.postgres_writer import PostgresWriter
from bot.store.sqlite_writer import SqliteWriter, Work
from bot.store.write_batches import WriteBatches
from bot.store.write_gate import WriteGate

T = TypeVar("T")
WRITE_THREADS, READ_THREADS = 4, 2  # PostgreSQL: threads (and connections) for write_now, read_now


def async_url(url: str) -> str:
    """`sqlite:///x.db` → `sqlite+aiosqlite:///x.db`; `postgresql://` → psycopg (async-capable)."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def sync_url(url: str) -> str:
    """The URL Alembic uses: the same database through a synchronous driver."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # Herald issues BEGIN itself (see _begin_immediate)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # bot/store/checkpointer.py does it
    cursor.close()


READ_ONLY = "herald_read_only"


def _begin_immediate(conn: Connection) -> None:
    """Writers take SQLite's write lock up front, so none fails half-way on a lock upgrade;
    readers begin a plain (deferred) transaction and never wait for the write lock."""
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """An async engine with the pragmas Herald relies on (WAL, foreign keys, busy timeout)."""
    full = async_url(url)
    if is_sqlite(full):
        engine = create_async_engine(full, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    """The engine and a session factory; `transaction()` commits, or rolls back on error."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._gate = WriteGate()
        self._writer_task: asyncio.Task[Any] | None = None
        path = engine.url.database if self.sqlite else None
        file = path if path and path != ":memory:" else None
        self._fast: SqliteWriter | PostgresWriter | None = None
        self._reads: SqliteWriter | PostgresWriter | None = None
        self._batches: WriteBatches | None = None
        if file:
            self._fast = SqliteWriter(file)
            self._batches = WriteBatches(self._fast, gate=self._gate)
            self._reads = SqliteWriter(file, reads=True)
        elif not self.sqlite:
            url = sync_url(engine.url.render_as_string(hide_password=False))
            self._fast = PostgresWriter(url, threads=WRITE_THREADS)
            self._batches = WriteBatches(self._fast, flushers=WRITE_THREADS)
            self._reads = PostgresWriter(url, threads=READ_THREADS, reads=True)
        self._checkpoints = Checkpointer(file) if file else None

    async def write_now(self, work: Work[T], *, fast: bool = False) -> T:
        """`work(connection)` — synchronous Core or ORM statements — in one transaction. On
        a SQLite file it runs in one hop to the writer's thread (bot/store/sqlite_writer.py),
        holding the write lock for its statements only; on PostgreSQL in one hop to one of a
        few threads with synchronous connections (bot/store/postgres_writer.py); on an
        in-memory SQLite on the async engine's connection. `fast` as for `transaction`.
        Writes that come together are committed together (bot/store/write_batches.py):
        `work` may run twice."""
        if self._batches is not None and self._writer_task is not asyncio.current_task():
            return await self._batches.run(work, fast=fast)
        async with self._write_turn(fast=fast):
            if self._fast is not None:
                return await self._fast.run(work)
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)

    async def read_now(self, work: Work[T]) -> T:
        """`work(connection)` — synchronous Core statements that only read — in one
        transaction: on a SQLite file or PostgreSQL in one hop to a reader thread of its own
        (no round trip per statement through the event loop), else on the async engine's."""
        if self._reads is not None:
            return await self._reads.run(work)
        async with self.engine.connect() as connection:
            return await connection.run_sync(work)

    @asynccontextmanager
    async def transaction(self, *, fast: bool = False) -> AsyncIterator[AsyncSession]:
        """`fast`: a short write someone is waiting on (a Slack ack) goes before queued ones."""
        async with self._write_turn(fast=fast), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _write_turn(self, *, fast: bool) -> AsyncIterator[None]:
        """SQLite has one writer at a time: writers queue at this process's gate."""
        task = asyncio.current_task()
        if not self.sqlite or self._writer_task is task:
            yield
            return
        await self._gate.acquire(fast=fast)
        self._writer_task = task
        try:
            yield
        finally:
            self._writer_task = None
            self._gate.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: on SQLite it does not queue behind writers."""
        async with self._sessions() as session:  # closing releases the connection, no commit
            _ = await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def ping(self) -> bool:
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        for thread in (self._fast, self._reads):
            if thread is not None:
                await thread.close()
        await self.engine.dispose()
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.close)
