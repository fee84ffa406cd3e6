"""DORA's "% of production releases whose rollback was rehearsed", with its count: a rehearsal
reported before the deploy counts, so does the same version rolled back in staging; one
reported only after the deploy, or a staging release itself, does not."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.dora.text import format_count, format_value
from bot.domain.dora.window import DoraWindow
from bot.domain.rehearsal.model import RehearsalRequest
from bot.domain.release.lifecycle import EventType
from bot.store.dora import dora_report
from bot.store.rehearsals import add_rehearsal
from bot.store.releases import SqlReleaseReader
from tests.store.support import Store, advance, manifest, register

DEPLOYED = (EventType.STARTED, EventType.DEPLOYED)


async def release(store: Store, rid: str, version: str, env: str = "prod") -> None:
    await register(store, manifest(id=rid, version=version, env=env))


async def rehearse(store: Store, rid: str, env: str = "staging") -> None:
    found = await SqlReleaseReader(database=store.database).by_id(rid)
    assert found is not None
    request = RehearsalRequest(env=env, result="passed")
    await add_rehearsal(store.database, release=found, request=request, now=store.clock())


async def test_two_of_five_production_releases_had_their_rollback_rehearsed(
    store: Store,
) -> None:
    for n in range(1, 6):
        await release(store, f"rel-{n}", f"2.{n}.0")
    await rehearse(store, "rel-1")  # reported before its deploy
    await release(store, "rel-2-staging", "2.2.0", env="staging")
    await advance(store, "rel-2-staging", *DEPLOYED, EventType.FAILED, EventType.ROLLED_BACK)
    store.clock.advance(60)
    for n in range(1, 6):
        await advance(store, f"rel-{n}", *DEPLOYED)
        store.clock.advance(1)
    await rehearse(store, "rel-3")  # only after its deploy: no proof beforehand
    window = DoraWindow.ending(store.clock() + timedelta(seconds=1), timedelta(days=30))
    report = await dora_report(store.database, window=window)
    figure = report.rollback_rehearsed_rate
    assert (format_value(figure), format_count("rollback_rehearsed_rate", figure)) == (
        "40.0%",
        "2 rehearsed of 5 production deploys",
    )
    assert report.as_dict()["figures"]["rollback_rehearsed_rate"]["value"] == 0.4
    staging = await dora_report(store.database, window=window, env="staging")
    assert staging.rollback_rehearsed_rate.count == 0  # not a production env
