"""Committed writes reach the database file itself within a second or two, without any
write waiting for it: a copy of the file alone (no -wal beside it) holds them."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, insert

from bot.store.database import Database, create_engine
from bot.store.migrate import upgrade
from bot.store.release_rows import table_of
from bot.store.tables import InboxRow
from tests.store.support import T0

INBOX = table_of(InboxRow)


async def test_writes_are_checkpointed_into_the_file_in_the_background(
    sqlite_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    database = Database(create_engine(sqlite_url))
    try:
        for batch in range(20):  # well past the 1,000 pages a commit would checkpoint at

            def write(connection: Connection, batch: int = batch) -> None:
                rows = [
                    {
                        "key": f"k{batch}-{n}",
                        "source": "test",
                        "received_at": T0,
                        "attempts": 0,
                        "request": {"pad": "x" * 2000},
                    }
                    for n in range(100)
                ]
                connection.execute(insert(INBOX), rows)

            await database.write_now(write)
        file = tmp_path / "herald.db"
        assert (tmp_path / "herald.db-wal").stat().st_size > 0  # the log holds them for now
        copy = tmp_path / "copy.db"
        for _ in range(30):  # the checkpointer runs every second
            shutil.copyfile(file, copy)
            if _rows(copy) == 2000:
                break
            await asyncio.sleep(0.2)
        assert _rows(copy) == 2000
    finally:
        await database.close()


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM inbox").fetchone()[0])
        except sqlite3.DatabaseError:
            return -1  # copied mid-checkpoint
