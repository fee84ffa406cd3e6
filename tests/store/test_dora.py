"""DORA in SQL (bot/store/dora.py) on SQLite and PostgreSQL: the hand-built histories of
tests/domain/dora/histories.py, recorded through the real use cases, give the pure answers."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.domain.dora.report import compute_report
from bot.domain.dora.window import DoraWindow
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.examples import example_manifest
from bot.store.dora import dora_report
from tests.domain.dora.histories import (
    DAY,
    HISTORIES,
    MIN,
    START,
    WINDOW,
    ZONES,
    E,
    Story,
    deploy,
    facts,
    month_of_webapp,
)
from tests.store.support import Store, recorder, register, run

READS = ("SEARCH", "SCAN")
FILTERS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("webapp", "prod"),
    ("webapp", None),
    ("api", None),
    (None, "staging"),
]


def manifest_of(story: Story) -> Manifest:
    data = example_manifest()
    first = min(at for _, at in story.events)
    data.update(
        id=story.id,
        version=f"1.0.{abs(hash(story.id)) % 1000}",
        service=story.service,
        env=story.env,
        created_at=(first - timedelta(hours=1)).isoformat(),
    )
    if story.risk:
        data["risk"] = story.risk
    if story.committed_at:
        data["changes"] = [
            {"type": "fix", "summary": "a fix", "committed_at": story.committed_at.isoformat()}
        ]
    return Manifest.model_validate(data)


async def record(store: Store, stories: list[Story]) -> None:
    """Each story as CI would send it: the manifest, then each event (repeats are no-ops)."""
    for story in stories:
        await register(store, manifest_of(story))
        for kind, at in story.events:
            lead = story.lead_time_seconds if kind is EventType.DEPLOYED else None
            request = EventRequest(event=kind, at=at, lead_time_seconds=lead)
            await run(store, recorder(store, story.id, request))


@pytest.mark.parametrize("name", HISTORIES)
async def test_sql_gives_the_pure_answers(store: Store, name: str) -> None:
    stories = HISTORIES[name]
    await record(store, stories)
    for service, env in FILTERS:
        expected = compute_report(facts(stories), WINDOW, service=service, env=env)
        got = await dora_report(store.database, window=WINDOW, service=service, env=env)
        assert got == expected, (service, env)


def a_busy_two_months(seed: int = 7) -> list[Story]:
    """Seeded releases over this window and the one before: odd and even counts of leads and
    restores for the percentiles, repeated values, zero and missing leads, failures that never
    recover, rollbacks, hotfixes, two services and two envs."""
    rng = random.Random(seed)
    stories = []
    for i in range(60):
        at = START - 30 * DAY + timedelta(seconds=rng.randrange(60 * 86400), microseconds=i)
        after: list[tuple[E, Any]] = []
        if rng.random() < 0.3:
            failed = at + rng.randrange(1, 300) * MIN
            after.append((E.FAILED, failed))
            if rng.random() < 0.5:
                after.append((E.ROLLED_BACK, failed + 5 * MIN))
            if rng.random() < 0.8:
                after.append((E.RECOVERED, failed + rng.choice((10, 30, 30, 45)) * MIN))
        stories.append(
            deploy(
                f"busy-{i}",
                at,
                *after,
                lead=rng.choice((None, 0.0, 600.0, 600.0, rng.uniform(1, 90000))),
                service=rng.choice(("webapp", "api")),
                env=rng.choice(("prod", "prod", "staging")),
                risk="emergency" if rng.random() < 0.15 else None,
            )
        )
    return stories


async def test_a_busy_two_months_gives_the_pure_answers(store: Store) -> None:
    stories = a_busy_two_months()
    await record(store, stories)
    for service, env in FILTERS:
        expected = compute_report(facts(stories), WINDOW, service=service, env=env)
        got = await dora_report(store.database, window=WINDOW, service=service, env=env)
        assert got == expected, (service, env)
    everything = compute_report(facts(stories), WINDOW)
    assert everything.lead_time_p90_s.enough and everything.time_to_restore_median_s.enough


async def test_known_answers_in_sql(store: Store) -> None:
    await record(store, month_of_webapp())
    r = await dora_report(store.database, window=WINDOW, service="webapp", env="prod")
    assert r.deploy_frequency_per_day.count == 10
    assert r.lead_time_median_s.value == 5500.0
    assert r.lead_time_p90_s.value == pytest.approx(9100.0)
    assert (r.change_failure_rate.value, r.change_failure_rate.numerator) == (0.3, 3)
    assert r.time_to_restore_median_s.value == 3600.0
    assert r.rework_rate.value == 0.2
    assert r.previous is not None and r.previous.deploy_frequency_per_day.count == 4


async def test_without_the_previous_window(store: Store) -> None:
    await record(store, month_of_webapp())
    r = await dora_report(store.database, window=WINDOW, compare=False)
    assert r == replace(compute_report(facts(month_of_webapp()), WINDOW), previous=None)


@pytest.mark.parametrize("zone", ZONES[:2], ids=str)
async def test_time_zones_in_the_store(store: Store, zone: timezone) -> None:
    stories = month_of_webapp() + HISTORIES["releases across a window edge"]
    await record(store, [s.shifted(zone) for s in stories])
    window = DoraWindow(WINDOW.start.astimezone(zone), WINDOW.end.astimezone(zone))
    got = await dora_report(store.database, window=window)
    assert got == compute_report(facts(stories), WINDOW)


async def test_every_scan_uses_an_index_on_sqlite(store: Store) -> None:
    if not store.database.sqlite:
        pytest.skip("SQLite's query plans; PostgreSQL prefers a seq scan on tiny tables")
    await record(store, month_of_webapp())
    seen: list[tuple[str, Any]] = []

    def capture(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    engine = store.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for service, env in FILTERS:
            await dora_report(store.database, window=WINDOW, service=service, env=env)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen
    async with store.database.engine.connect() as conn:
        for statement, params in seen:
            plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
            steps = [str(row[-1]) for row in plan]
            tables = ("releases", "dora_days")
            reads = [
                s for s in steps if s.startswith(tuple(f"{v} {t} " for v in READS for t in tables))
            ]
            assert reads, steps
            assert all(s.startswith("SEARCH ") and " USING " in s for s in reads), steps
