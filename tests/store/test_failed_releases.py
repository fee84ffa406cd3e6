"""The commander job's one question: which releases failed lately and are not recovered."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.release.lifecycle import EventType
from bot.store.releases import SqlReleaseReader
from tests.store.support import Store, advance, manifest, register


async def test_failed_and_not_recovered_since(store: Store) -> None:
    for release_id in ("rel-old", "rel-fixed", "rel-rolled", "rel-open", "rel-fine"):
        await register(store, manifest(id=release_id))
    await advance(store, "rel-old", EventType.STARTED, EventType.FAILED)
    store.clock.advance(3 * 3600)
    since = store.clock() - timedelta(hours=2)
    failed = (EventType.STARTED, EventType.FAILED)
    await advance(store, "rel-fixed", *failed, EventType.RECOVERED)
    await advance(store, "rel-rolled", *failed, EventType.ROLLED_BACK)
    store.clock.advance(60)
    await advance(store, "rel-open", *failed)
    await advance(store, "rel-fine", EventType.STARTED, EventType.DEPLOYED)
    reader = SqlReleaseReader(database=store.database)
    found = await reader.failed_unrecovered(since=since)
    assert [r.id for r in found] == ["rel-rolled", "rel-open"]  # oldest failure first
    assert found[1].state is EventType.FAILED


async def test_failed_and_not_recovered_of_one_service_and_env(store: Store) -> None:
    await register(store, manifest(id="rel-web"))
    await register(store, manifest(id="rel-api", service="api"))
    await register(store, manifest(id="rel-staging", env="staging"))
    for release_id in ("rel-web", "rel-api", "rel-staging"):
        await advance(store, release_id, EventType.STARTED, EventType.FAILED)
    reader = SqlReleaseReader(database=store.database)
    since = store.clock() - timedelta(hours=1)
    found = await reader.failed_unrecovered(since=since, service="webapp", env="prod")
    assert [r.id for r in found] == ["rel-web"]
