"""Report queries on SQLite and PostgreSQL: only the period is loaded, filters apply in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.notes.digest import build_digest, render_digest_text
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.store.reporting import failure_symptoms, find_release, releases_in_period
from tests.store.support import Store, manifest, recorder, register, run

DAY = datetime(2025, 10, 3, 0, 0, tzinfo=UTC)
E = EventType


async def released(
    store: Store, release_id: str, *events: tuple[EventType, datetime], **fields: Any
) -> None:
    """Register a manifest and record `events` through the use cases, as the API does."""
    await register(store, manifest(id=release_id, **fields))
    for event, at in events:
        symptom = f"{release_id} broke" if event is E.FAILED else None
        request = EventRequest(event=event, at=at, symptom=symptom)
        await run(store, recorder(store, release_id, request))


async def fill(store: Store) -> None:
    hour = timedelta(hours=1)
    await released(store, "rel-before", (E.STARTED, DAY - 3 * hour), (E.DEPLOYED, DAY - 2 * hour))
    await released(store, "rel-in", (E.STARTED, DAY + hour), (E.DEPLOYED, DAY + 2 * hour))
    await released(
        store,
        "rel-api",
        (E.STARTED, DAY + hour),
        (E.DEPLOYED, DAY + 3 * hour),
        service="api",
        env="staging",
    )
    await released(
        store,
        "rel-fixed-today",
        (E.STARTED, DAY - 30 * hour),
        (E.DEPLOYED, DAY - 29 * hour),
        (E.FAILED, DAY - 2 * hour),
        (E.RECOVERED, DAY + 4 * hour),
    )
    await released(store, "rel-started", (E.STARTED, DAY + 5 * hour))  # not active yet
    await released(store, "rel-after", (E.STARTED, DAY + 24 * hour), (E.DEPLOYED, DAY + 25 * hour))


async def test_releases_in_period_loads_only_that_period(store: Store) -> None:
    await fill(store)
    found = await releases_in_period(store.database, since=DAY, until=DAY + timedelta(days=1))
    assert [r.id for r in found] == ["rel-api", "rel-fixed-today", "rel-in"]
    assert found[0].service == "api" and found[0].env == "staging"
    assert found[1].times[E.RECOVERED] == DAY + timedelta(hours=4)


async def test_filters_by_service_env_and_events(store: Store) -> None:
    await fill(store)
    since, until = DAY - timedelta(days=3), DAY + timedelta(days=3)
    webapp = await releases_in_period(store.database, since=since, until=until, service="webapp")
    assert {r.id for r in webapp} == {"rel-before", "rel-in", "rel-fixed-today", "rel-after"}
    staging = await releases_in_period(store.database, since=since, until=until, env="staging")
    assert [r.id for r in staging] == ["rel-api"]
    none = await releases_in_period(
        store.database, since=since, until=until, service="api", env="prod"
    )
    assert none == []
    deployed_today = await releases_in_period(
        store.database, since=DAY, until=DAY + timedelta(days=1), events=[E.DEPLOYED]
    )
    assert [r.id for r in deployed_today] == ["rel-api", "rel-in"]


async def test_failure_symptoms_and_digest_from_the_store(store: Store) -> None:
    await fill(store)
    releases = await releases_in_period(store.database, since=DAY, until=DAY + timedelta(days=1))
    symptoms = await failure_symptoms(store.database, [r.id for r in releases])
    assert symptoms == {"rel-fixed-today": "rel-fixed-today broke"}
    digest = build_digest(releases, since=DAY, until=DAY + timedelta(days=1), symptoms=symptoms)
    text = render_digest_text(digest)
    assert "2 releases shipped between Fri 3 Oct 2025, 00:00 UTC" in text
    assert "1 earlier failure fixed." in text
    assert ": rel-fixed-today broke. Fixed: recovered after 6h." in text


async def test_failure_symptoms_of_many_ids(store: Store) -> None:
    await fill(store)
    ids = [f"rel-missing-{n}" for n in range(1200)] + ["rel-fixed-today"]
    assert await failure_symptoms(store.database, ids) == {
        "rel-fixed-today": "rel-fixed-today broke"
    }
    assert await failure_symptoms(store.database, []) == {}


async def test_find_release(store: Store) -> None:
    await fill(store)
    found = await find_release(store.database, "rel-in")
    assert found is not None and found.times[E.DEPLOYED] == DAY + timedelta(hours=2)
    assert await find_release(store.database, "rel-nope") is None
