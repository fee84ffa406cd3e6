"""#release-feed hears when a freeze begins and when it ends: once, though Herald restarts or
runs twice, and a little late (saying so) when it was down across the boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import yaml

from bot.catalog import Catalog
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, Herald, SettingsFactory, start_herald
from tests.waiting import eventually, stays

BEGINS = datetime(2026, 12, 18, 17, 0, tzinfo=UTC)
ENDS = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
CATALOG = Catalog.model_validate(
    yaml.safe_load(
        f"""
services:
  webapp: {{owners: [U0OWNER01]}}
freezes:
  - name: end-of-year
    reason: End-of-year change freeze
    start: {BEGINS.isoformat()}
    end: {ENDS.isoformat()}
    envs: [prod]
"""
    )
)


@dataclass
class FeedWorld:
    slack: FakeSlack
    clock: FakeClock
    make_settings: SettingsFactory
    session: aiohttp.ClientSession
    heralds: list[Herald]
    database_url: str | None = None  # the fixtures' SQLite file unless set

    async def start(self) -> Herald:
        overrides = {"database_url": self.database_url} if self.database_url else {}
        settings = self.make_settings(checkup_interval_seconds=0.1, **overrides)  # every 0.6 s
        runner = await start_herald(settings, clock=self.clock, catalog=CATALOG)
        herald = Herald(runner, self.session)
        self.heralds.append(herald)
        return herald

    async def stop(self, herald: Herald) -> None:
        self.heralds.remove(herald)
        await herald.runner.cleanup()

    def said(self) -> list[str]:
        return [m.text for m in self.slack.posted(FEED) if "Freeze" in m.text]


@pytest.fixture
async def world(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[FeedWorld]:
    async with aiohttp.ClientSession() as session:
        world = FeedWorld(
            slack, FakeClock(BEGINS - timedelta(minutes=1)), make_settings, session, []
        )
        yield world
        for herald in list(world.heralds):
            await world.stop(herald)


async def test_the_feed_hears_a_freeze_begin_and_end_once_each(world: FeedWorld) -> None:
    await world.start()
    await stays(lambda: world.said() == [], seconds=1.0)
    world.clock.now = BEGINS + timedelta(seconds=5)
    await eventually(lambda: len(world.said()) == 1, timeout=10)
    assert world.said() == [
        "Freeze end-of-year begins: End-of-year change freeze. Holds all services in prod."
    ]
    (message,) = [m for m in world.slack.posted(FEED) if "Freeze" in m.text]
    assert "until <!date^" in message.blocks[0]["text"]["text"]
    await stays(lambda: len(world.said()) == 1, seconds=1.0)
    world.clock.now = ENDS + timedelta(seconds=5)
    await eventually(lambda: len(world.said()) == 2, timeout=10)
    assert world.said()[1] == "Freeze end-of-year ended: all services in prod may ship again."


@pytest.fixture
async def pg_world(world: FeedWorld, postgres_url: str) -> AsyncIterator[FeedWorld]:
    """The world on a real PostgreSQL database; every Herald stops before it is dropped."""
    world.database_url = postgres_url
    yield world
    for herald in list(world.heralds):
        await world.stop(herald)


@pytest.mark.postgres
async def test_two_heralds_and_a_restart_announce_the_beginning_once(pg_world: FeedWorld) -> None:
    world = pg_world
    first = await world.start()
    await world.start()
    world.clock.now = BEGINS + timedelta(seconds=5)
    await eventually(lambda: len(world.said()) == 1, timeout=10)
    await world.stop(first)
    await world.start()
    await stays(lambda: len(world.said()) == 1, seconds=1.5)


async def test_a_beginning_missed_while_down_is_announced_late_saying_so(
    world: FeedWorld,
) -> None:
    world.clock.now = BEGINS + timedelta(minutes=20)
    await world.start()
    await eventually(lambda: len(world.said()) == 1, timeout=10)
    (message,) = [m for m in world.slack.posted(FEED) if "Freeze" in m.text]
    assert "_Sent late: it begins at 17:00 UTC._" in message.blocks[0]["text"]["text"]
