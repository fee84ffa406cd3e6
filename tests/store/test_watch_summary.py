"""What `/deploy promote` reads of a release's early watch: the colour it announced and the
last reason; nothing before the watch has announced a colour, and never a recovery watch's."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from bot.domain.ports import WatchSummary
from bot.domain.watch.verdict import WatchColor
from bot.domain.watch.watch import WatchPurpose
from bot.store.releases import SqlReleaseReader
from bot.store.tables import WatchRow
from bot.store.watches import start_watch
from tests.store.support import Store, manifest, register


async def watch(store: Store, purpose: WatchPurpose, **said: str) -> None:
    now = store.clock()
    async with store.database.transaction() as session:
        await start_watch(
            session,
            release_id="rel-1",
            service="webapp",
            env="prod",
            purpose=purpose,
            origin=now,
            ends_at=now,
            due_at=now,
            now=now,
        )
        if said:
            await session.execute(
                update(WatchRow).where(col(WatchRow.purpose) == purpose.value).values(**said)
            )


async def test_the_release_watch_is_summarised_once_it_has_a_colour(store: Store) -> None:
    await register(store, manifest(id="rel-1"))
    reader = SqlReleaseReader(database=store.database)
    assert await reader.watch_summary("rel-1") is None  # no watch
    await watch(store, WatchPurpose.RECOVERY, color="red", reason="W1: down")
    await watch(store, WatchPurpose.RELEASE)
    assert await reader.watch_summary("rel-1") is None  # nothing announced yet
    async with store.database.transaction() as session:
        await session.execute(
            update(WatchRow)
            .where(col(WatchRow.purpose) == WatchPurpose.RELEASE.value)
            .values(color="yellow", reason="W4: p95 +60%")
        )
    assert await reader.watch_summary("rel-1") == WatchSummary(
        color=WatchColor.YELLOW, reason="W4: p95 +60%", at=None
    )
