"""Writes that arrive together are committed together on SQLite, yet each caller hears only
its own outcome: one caller's failed write neither undoes nor blocks the others'."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, func, insert, select

from bot.store.release_rows import table_of
from bot.store.tables import InboxRow
from tests.store.support import T0 as NOW
from tests.store.support import Store

INBOX = table_of(InboxRow)


class Refused(Exception):
    pass


def write_row(key: str, *, then_fail: bool = False) -> Callable[[Connection], str]:
    def work(connection: Connection) -> str:
        connection.execute(
            insert(INBOX).values(key=key, source="test", received_at=NOW, attempts=0, request=None)
        )
        if then_fail:
            raise Refused(key)  # after its insert: that row must not stay
        return key

    return work


async def test_a_burst_of_writes_each_commits_and_a_failing_one_undoes_only_itself(
    store: Store,
) -> None:
    writes = [write_row(f"k{n}", then_fail=n == 17) for n in range(60)]
    outcomes = await asyncio.gather(
        *(store.database.write_now(work) for work in writes),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert [str(e) for e in failed] == ["k17"] and isinstance(failed[0], Refused)
    assert [o for o in outcomes if not isinstance(o, Exception)] == [
        f"k{n}" for n in range(60) if n != 17
    ]
    keys = await store.database.read_now(
        lambda connection: set(connection.execute(select(INBOX.c.key)).scalars())
    )
    assert keys == {f"k{n}" for n in range(60) if n != 17}


async def test_a_write_after_a_failed_one_still_sees_what_came_before(store: Store) -> None:
    await store.database.write_now(write_row("first"))
    with pytest.raises(Refused):
        await store.database.write_now(write_row("second", then_fail=True))

    def rows(connection: Connection) -> int:
        return int(connection.execute(select(func.count()).select_from(INBOX)).scalar_one())

    assert await store.database.write_now(rows) == 1
