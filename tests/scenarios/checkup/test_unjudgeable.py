"""A checkup Herald cannot judge: retried a few times, then reported UNKNOWN, never forever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.catalog import Catalog
from bot.store.database import Database, create_engine
from bot.store.tables import CheckupRow
from tests.harness.release_metrics import HEALTHY
from tests.scenarios.checkup.world import CATALOG, CheckupWorld, deploy
from tests.test_metrics_endpoint import scrape, value
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
    assert report.startswith(":white_circle: Checkup +15m of rel-odd: *UNKNOWN*")
    assert "Could not judge: OverflowError: cannot convert float infinity to integer" in report
    assert world.pagerduty.events == []
    assert value(await scrape(herald), "herald_checkups_failed_total") == 1
    world.clock.advance(timedelta(minutes=10))
    await stays(lambda: len(world.reports("rel-odd")) == 1, seconds=0.3)  # never again
