"""PostgreSQL's short writes and reads on a few threads, each with a synchronous connection.

Through the async engine every statement is a trip through the event loop: SQLAlchemy's
greenlet bridge, psycopg's async connection and its waits on the socket, a task wake-up per
reply — most of Herald's CPU per accepted event on PostgreSQL went there, not to the
statements. Here a write or a read that `Database.write_now`/`read_now` is given (a function
of a `Connection`) runs whole on one of this writer's threads, over psycopg's synchronous
driver, and only its result comes back to the event loop: one hop per transaction.

Each thread keeps one connection open (a checkout with a pre-ping would cost a round trip per
transaction). A connection the server dropped is replaced: a transaction that failed on it
before its COMMIT was sent is run again on a fresh one (the server rolled it back); one whose
COMMIT was lost is reported, since it may have been written.

Transactions are PostgreSQL's default, READ COMMITTED. A transaction that the server aborted
to break a deadlock, or as a serialization failure, is run once more before its error is
reported: two replicas' writes may each lock a row the other wants next, and more so when
each commits several callers' writes together (bot/store/write_batches.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import DBAPIError

from bot.store.sqlite_writer import Outcome, Work, together

T = TypeVar("T")
RETRIED = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


class PostgresWriter:
    """`threads` threads and as many connections to `url` (a synchronous psycopg URL).
    `reads=True`: each transaction is rolled back at its end (it only read)."""

    def __init__(self, url: str, *, threads: int, reads: bool = False) -> None:
        name = "herald-pg-reads" if reads else "herald-pg"
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._engine = create_engine(url, pool_size=threads, max_overflow=0)
        self._reads = reads
        self._mine = threading.local()  # each thread's connection
        self._connections: list[Connection] = []  # every thread's, to close
        self._opening = threading.Lock()

    async def run(self, work: Work[T]) -> T:
        """`work(connection)` in one transaction (BEGIN … COMMIT, or ROLLBACK on error)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._transaction, work)

    async def run_all(self, works: Sequence[Work[Any]]) -> list[Outcome]:
        """Every one of `works` in one transaction, each one's result or error in order. If
        the transaction fails (one work raised, or the server aborted it), each is run again
        in a transaction of its own, so only the failing one's caller hears of it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._together, works)

    def _together(self, works: Sequence[Work[Any]]) -> list[Outcome]:
        def whole(work: Work[list[Any]]) -> list[Any]:
            return self._once(work, whole=True)

        return together(works, whole=whole, alone=self._transaction)

    def _transaction(self, work: Work[T]) -> T:
        try:
            return self._once(work)
        except DBAPIError as exc:
            if _sqlstate(exc) not in RETRIED:
                raise
        return self._once(work)  # a deadlock's or serialization failure's loser, once more

    def _once(self, work: Work[T], *, whole: bool = False) -> T:
        """`whole`: several callers' works — a work that swallowed a statement's error must
        not let COMMIT quietly roll the others back (the server answers it with ROLLBACK)."""
        for _ in range(2):
            connection = self._connected()
            transaction = connection.begin()
            try:
                result = work(connection)
                if whole and _aborted(connection):
                    raise RuntimeError("a statement of the batch failed and was swallowed")
            except DBAPIError as exc:
                transaction.rollback()
                if exc.connection_invalidated:
                    continue  # the server dropped it before COMMIT: nothing was written
                raise
            except BaseException:
                transaction.rollback()
                raise
            if self._reads:
                transaction.rollback()
            else:
                transaction.commit()
            return result
        raise RuntimeError("PostgreSQL dropped two connections in a row")  # pragma: no cover

    def _connected(self) -> Connection:
        """This thread's connection; a dropped one is given back to the pool first (the pool
        holds one connection per thread, no more)."""
        connection: Connection | None = getattr(self._mine, "connection", None)
        if connection is not None and (connection.invalidated or connection.closed):
            with self._opening:
                connection.close()
                self._connections.remove(connection)
            connection = None
        if connection is None:
            connection = self._engine.connect()
            with self._opening:
                self._connections.append(connection)
            self._mine.connection = connection
        return connection

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._shut)

    def _shut(self) -> None:
        self._threads.shutdown(wait=True)  # the works under way finish first
        with self._opening:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._engine.dispose()


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def _aborted(connection: Connection) -> bool:
    info = getattr(connection.connection.dbapi_connection, "info", None)
    return info is not None and int(info.transaction_status) == INERROR


INERROR = 3  # psycopg.pq.TransactionStatus.INERROR: a statement failed, COMMIT would roll back
