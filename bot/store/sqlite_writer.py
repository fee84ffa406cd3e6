"""SQLite's write path for a short write a caller waits on, in one hop to one thread.

Through the async engine a transaction is several round trips to aiosqlite's thread and
SQLAlchemy's connection handling around them: ~2 ms for one small insert on these machines,
against ~0.06 ms for the same insert on a plain `sqlite3` connection. The inbox row a Slack
ack waits on is written here instead: one function, run on this writer's own thread and
connection (the same pragmas as the engine's), holding the process's write gate like every
other SQLite writer in Herald, so the two paths never meet in SQLite's busy handler.

Against another process's writer (the workers of `herald serve --workers N`) it does not use
SQLite's busy handler either: that sleeps 1, 2, 5, 10, 15 … ms between tries, so a writer
that frees the lock after 1.1 ms is seen after 3 ms, and one that keeps taking it starves
the sleeper. This writer asks again after 0.1 ms, doubling to 2 ms, for up to 30 s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]
LOCK_WAIT = 30.0  # seconds, as the engine's busy timeout
FIRST_PAUSE, LAST_PAUSE = 0.0001, 0.002  # seconds between asking for a busy write lock


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def run(self, work: Work[T]) -> T:
        """`work(connection)` in one transaction (BEGIN IMMEDIATE … COMMIT, or ROLLBACK)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Work[T]) -> T:
        deadline, pause = time.monotonic() + LOCK_WAIT, FIRST_PAUSE
        while True:
            try:
                return self._attempt(self._connect(), work)
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, LAST_PAUSE)

    def _attempt(self, connection: sqlite3.Connection, work: Work[T]) -> T:
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, timeout=LOCK_WAIT, isolation_level=None)
            if connection.execute("PRAGMA journal_mode").fetchone() != ("wal",):
                connection.execute("PRAGMA journal_mode=WAL")  # needs the lock; WAL persists
            for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
                connection.execute(f"PRAGMA {pragma}")
            connection.execute("PRAGMA busy_timeout=0")  # writes wait in _transaction instead
            self._connection = connection
        return self._connection

    async def close(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)
