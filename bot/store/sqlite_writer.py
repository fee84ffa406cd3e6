"""SQLite's write path for a short write a caller waits on, in one hop to one thread.

Through the async engine a transaction is several round trips to aiosqlite's thread and
SQLAlchemy's connection handling around them: ~2 ms for one small insert on these machines,
against ~0.06 ms for the same insert on a plain `sqlite3` connection. The inbox row a Slack
ack waits on is written here instead: one function, run on this writer's own thread and
connection (the same pragmas as the engine's), holding the process's write gate like every
other SQLite writer in Herald, so the two paths never meet in SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


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
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return self._connection

    async def close(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)
