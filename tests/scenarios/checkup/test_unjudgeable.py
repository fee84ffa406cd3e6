"""A checkup Herald cannot judge: retried a few times, then reported UNKNOWN, never forever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.catalog import Catalog
from bot.store.database import Database, create_engine
from bot.store.tables import CheckupRow
from tests.harness.release_metrics import HEALTHY, RELEASE
from tests.metric_samples import value
from tests.scenarios.checkup.test_early_watch import TICK, judged, step, watching
from tests.scenarios.checkup.world import CATALOG, CheckupWorld, deploy
from tests.test_metrics_endpoint import scrape
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow

# A mistaken template that divides by zero: Prometheus answers +Inf (or NaN) for the count.
BY_ZERO = 'sum(increase(http_requests_total{service="{service}",env="{env}"}[{window}])) / 0'


def with_errors_query(errors: str) -> Catalog:
    raw = CATALOG.model_dump(exclude_none=True)
    raw["services"][HEALTHY]["queries"] = {"errors": errors}
    raw["services"][HEALTHY]["checkups"] = ["15m"]
    return Catalog.model_validate(raw)


async def tried(world: CheckupWorld, release_id: str, times: int) -> bool:
    """Whether Herald has taken up the release's checkup `times` times."""
    database = Database(create_engine(world.database_url))
    try:
        async with database.read() as session:
            found = await session.execute(
                select(col(CheckupRow.attempts)).where(col(CheckupRow.release_id) == release_id)
            )
            return int(found.scalar_one()) == times
    finally:
        await database.close()


async def test_a_checkup_that_cannot_be_judged_is_retried_then_reported_unknown(
    world: CheckupWorld,
) -> None:
    herald = await world.start(catalog=with_errors_query(BY_ZERO))
    await deploy(herald, service=HEALTHY, release_id="rel-odd")
    for times in (1, 2):
        await eventually(lambda: tried(world, "rel-odd", times))  # noqa: B023
        await stays(lambda: world.reports("rel-odd") == [], seconds=0.2)
        world.clock.advance(timedelta(minutes=2))  # past the backoff (30 s, then 60 s)
    await eventually(lambda: len(world.reports("rel-odd")) == 1, timeout=10)
    report = world.reports("rel-odd")[0]
    assert report.startswith(":white_circle: Checkup +15m of rel-odd: *UNKNOWN*\n")
    assert report.endswith(
        "\nERROR verdict: Could not judge: OverflowError: cannot convert float infinity to integer"
    )
    assert world.pagerduty.events == []
    assert value(await scrape(herald), "herald_checkups_failed_total", kind="checkup") == 1
    world.clock.advance(timedelta(minutes=10))
    await stays(lambda: len(world.reports("rel-odd")) == 1, seconds=0.3)  # never again


async def test_a_watch_that_cannot_be_judged_says_unknown_counts_it_and_carries_on(
    world: CheckupWorld,
) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(catalog=with_errors_query(BY_ZERO), watch_tick_seconds=TICK)
    await deploy(herald, service=HEALTHY, release_id="rel-odd")
    await judged(world, "rel-odd", 1)
    await step(world, "rel-odd", 2)  # it keeps watching at its cadence
    [message] = watching(world, "rel-odd")
    assert message.startswith(
        ":grey_question: *Early watch: unknown* — "
        "Could not judge: OverflowError: cannot convert float infinity to integer\n"
        "Judged 2 times"
    )
    assert world.pagerduty.events == []
    samples = await scrape(herald)
    assert value(samples, "herald_checkups_failed_total", kind="watch") == 2
    assert value(samples, "herald_checkups_failed_total", kind="checkup") == 0


async def test_a_checkup_judges_normally_once_its_query_is_fixed_before_the_last_attempt(
    world: CheckupWorld,
) -> None:
    herald = await world.start(catalog=with_errors_query(BY_ZERO))
    await deploy(herald, service=HEALTHY, release_id="rel-fixed")
    await eventually(lambda: tried(world, "rel-fixed", 1))
    await world.stop(herald)  # the owner fixes the query; Herald restarts with it
    herald = await world.start()
    world.clock.advance(timedelta(minutes=1))
    await eventually(lambda: len(world.reports("rel-fixed")) == 1, timeout=10)
    assert world.reports("rel-fixed")[0].startswith(
        ":large_green_circle: Checkup +15m of rel-fixed: *GREEN*"
    )
    assert await tried(world, "rel-fixed", 2)
    assert value(await scrape(herald), "herald_checkups_failed_total", kind="checkup") == 0
