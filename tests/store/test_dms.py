"""Who asked for DMs about their releases: asking twice is asking once; stopping stops."""

from __future__ import annotations

from datetime import timedelta

from bot.store.dms import SqlDmBook
from tests.store.support import T0, Store


async def test_opting_in_twice_keeps_the_first_time_and_opting_out_forgets(store: Store) -> None:
    book = SqlDmBook(database=store.database)
    await book.subscribe("U0OWNER", at=T0)
    await book.subscribe("U0OWNER", at=T0 + timedelta(hours=1))  # a double click
    await book.subscribe("U0LEAD", at=T0)
    assert await book.subscribers() == {"U0OWNER": T0, "U0LEAD": T0}
    await book.unsubscribe("U0OWNER")
    assert not await book.subscribed("U0OWNER") and await book.subscribed("U0LEAD")
