"""Group commit for inserts that a caller waits on: the inbox row before an ack.

Many concurrent requests each need one row written before they are answered. One at a time,
each pays a transaction of its own (on SQLite, a turn at the one write lock and several
round trips to the driver's thread); together they pay one. While one batch is being
written, new rows queue; the next batch takes them all, as one `INSERT ... ON CONFLICT DO
NOTHING RETURNING key` in one transaction — on SQLite, in one hop to the writer's thread
(bot/store/sqlite_writer.py).
Each caller learns whether its row was new.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.database import Database

MAX_BATCH = 500  # rows per statement: well inside SQLite's limit on bound parameters
Pending = tuple[dict[str, Any], "asyncio.Future[bool]"]


class GroupInsert:
    """Rows of `table` unique by `key`, inserted once each, many callers per commit."""

    def __init__(self, database: Database, table: Table, *, key: str) -> None:
        self._database = database
        self._table = table
        self._key = key
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._insert: Any = None

    async def insert(self, values: dict[str, Any]) -> bool:
        """True if the row is new; False if a row with its key was there (or came first)."""
        added: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((values, added))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="herald-group-insert")
        return await asyncio.shield(added)  # a caller that gives up does not undo the others

    async def _write_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                new = await self._write(batch)
            except Exception as exc:  # every caller of the batch hears it
                for _, added in batch:
                    if not added.done():
                        added.set_exception(exc)
                continue
            for values, added in batch:
                key = values[self._key]
                if not added.done():
                    added.set_result(key in new)
                new.discard(key)  # the same key twice in one batch: the first one is new

    async def _write(self, batch: list[Pending]) -> set[Any]:
        rows, seen = [], set()
        for values, _ in batch:
            if values[self._key] not in seen:
                seen.add(values[self._key])
                rows.append(values)
        statement = self._statement()  # executemany with RETURNING: "insertmanyvalues"
        return await self._database.write_now(
            lambda connection: set(connection.execute(statement, rows).scalars()), fast=True
        )

    def _statement(self) -> Any:
        """Built once: a statement with the rows in its VALUES is compiled on every call."""
        if self._insert is None:
            insert = sqlite_insert if self._database.sqlite else postgresql_insert
            column = self._table.c[self._key]
            self._insert = (
                insert(self._table).on_conflict_do_nothing(index_elements=[column])
            ).returning(column)
        return self._insert
