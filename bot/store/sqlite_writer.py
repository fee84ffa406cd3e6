"""SQLite's write path for a short write a caller waits on, in one hop to one thread.

Through the async engine a transaction is several round trips to aiosqlite's thread and
SQLAlchemy's connection handling around them: ~2 ms for one small insert on these machines,
and the write lock is held across every one of those hops — while the event loop serves
other requests, another process's writer waits. Here the whole transaction is one function
run on this writer's own thread and connection: a synchronous SQLAlchemy connection to the
same file, with the same pragmas, so the function is written with the same Core statements
and column types as everywhere else, and the lock is held for its statements only. It holds
the process's write gate like every other SQLite writer in Herald, so the two paths never
meet in SQLite's busy handler.

Against another process's writer (the workers of `herald serve --workers N`) it does not use
SQLite's busy handler either: that sleeps 1, 2, 5, 10, 15 … ms between tries, so a writer
that frees the lock after 1.1 ms is seen after 3 ms, and one that keeps taking it starves
the sleeper. This writer asks again after 0.1 ms, doubling to 2 ms, for up to 30 s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

T = TypeVar("T")
Work = Callable[[Connection], T]
LOCK_WAIT = 30.0  # seconds, as the engine's busy timeout
FIRST_PAUSE, LAST_PAUSE = 0.0001, 0.002  # seconds between asking for a busy write lock


class SqliteWriter:
    """`reads=True`: the same for short reads, on a thread and connection of their own: a
    deferred BEGIN, so they never wait for the write lock (WAL readers see the last commit)."""

    def __init__(self, path: str, *, reads: bool = False) -> None:
        name = "herald-sqlite-reads" if reads else "herald-sqlite"
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._engine = _engine(path, begin="BEGIN" if reads else "BEGIN IMMEDIATE")
        self._connection: Connection | None = None  # kept open: a checkout costs per call
        # the event loop's own connection, for `try_here`; opened on first use
        self._here = None if reads else _engine(path, begin="BEGIN IMMEDIATE")
        self._here_connection: Connection | None = None

    def try_here(self, work: Work[T]) -> T:
        """`work` in one transaction on the calling thread (the event loop's), if the write
        lock is free this instant; else `WouldWait`, and nothing was written. For a write an
        ack waits on while nothing else writes: two thread hops cost more than the write."""
        assert self._here is not None, "a reader does not write"
        if self._here_connection is None or self._here_connection.invalidated:
            self._here_connection = self._here.connect()
        try:
            with self._here_connection.begin():
                return work(self._here_connection)
        except OperationalError as exc:
            if _locked(exc):
                raise WouldWait from exc
            raise

    async def run(self, work: Work[T]) -> T:
        """`work(connection)` in one transaction (BEGIN IMMEDIATE, or BEGIN for reads, …
        COMMIT, or ROLLBACK)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work)

    async def run_all(self, works: Sequence[Work[Any]]) -> list[Outcome]:
        """Every one of `works` in one transaction, each one's result or error in order. If
        one fails, the transaction is rolled back and each is run again in its own, so one
        caller's error never undoes another's write (a work is only statements, and may run
        twice)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._together, works)

    def _together(self, works: Sequence[Work[Any]]) -> list[Outcome]:
        return together(works, whole=self._transaction, alone=self._transaction)

    def _transaction(self, work: Work[T]) -> T:
        deadline, pause = time.monotonic() + LOCK_WAIT, FIRST_PAUSE
        while True:
            try:
                connection = self._connected()
                with connection.begin():
                    return work(connection)
            except OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, LAST_PAUSE)

    def _connected(self) -> Connection:
        if self._connection is None or self._connection.invalidated:
            self._connection = self._engine.connect()
        return self._connection

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._dispose)
        self._thread.shutdown(wait=True)

    def _dispose(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._engine.dispose()
        if self._here_connection is not None:
            self._here_connection.close()
        if self._here is not None:
            self._here.dispose()


class WouldWait(Exception):
    """The write lock is held (by another process): the write must queue for it."""


@dataclass(frozen=True, slots=True)
class Done:
    result: Any


@dataclass(frozen=True, slots=True)
class Failed:
    error: Exception


Outcome = Done | Failed


def each(works: Sequence[Work[Any]]) -> Work[list[Any]]:
    return lambda connection: [work(connection) for work in works]


def together(
    works: Sequence[Work[Any]],
    *,
    whole: Callable[[Work[list[Any]]], list[Any]],
    alone: Callable[[Work[Any]], Any],
) -> list[Outcome]:
    """`works` in one transaction (`whole`); if that fails, each in its own (`alone`), so
    only the failing one's caller hears of it."""
    if len(works) > 1:
        try:
            return [Done(result) for result in whole(each(works))]
        except Exception:
            pass  # below, each on its own
    outcomes: list[Outcome] = []
    for work in works:
        try:
            outcomes.append(Done(alone(work)))
        except Exception as exc:
            outcomes.append(Failed(exc))
    return outcomes


def _engine(path: str, *, begin: str) -> Engine:
    """One connection, used from the writer's one thread."""
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": LOCK_WAIT},
    )
    event.listen(engine, "connect", _tune)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


def _tune(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # the "begin" listener above says BEGIN
    if dbapi_connection.execute("PRAGMA journal_mode").fetchone() != ("wal",):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # needs the lock; WAL persists
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0"):
        dbapi_connection.execute(f"PRAGMA {pragma}")
    dbapi_connection.execute("PRAGMA busy_timeout=0")  # writes wait in _transaction instead


def _locked(exc: OperationalError) -> bool:
    cause = exc.orig
    return isinstance(cause, sqlite3.OperationalError) and (
        "locked" in str(cause) or "busy" in str(cause)
    )
