"""Retention in a running Herald: a month on, the job forgets old webhook keys, counts what
it deleted on /metrics, and a redelivery within the dedupe horizon is still dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.examples import example_manifest
from bot.workers import RETENTION
from tests.conftest import Herald, SettingsFactory, start_herald
from tests.scenarios.test_hooks import CATALOG, argocd, hook


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
async def herald(make_settings: SettingsFactory, clock: Clock) -> AsyncIterator[Herald]:
    runner = await start_herald(make_settings(), catalog=CATALOG, clock=clock)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


async def pruned(herald: Herald, table: str) -> float:
    async with herald.session.get(herald.url + "/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "herald_retention_pruned_rows_total" and sample.labels == {
                "table": table
            }:
                return sample.value
    return 0.0


async def test_a_month_on_the_webhook_keys_are_forgotten_and_counted(
    herald: Herald, clock: Clock
) -> None:
    await herald.post_manifest(example_manifest())
    deployed = argocd("on-deployed")
    assert (await hook(herald, "argocd", deployed))[0] == 200
    clock.now += timedelta(days=10)
    job = herald.runner.app[RETENTION]
    await job.run()
    assert await hook(herald, "argocd", deployed) == (200, {"duplicate": True})
    assert await pruned(herald, "inbox") == 0

    clock.now += timedelta(days=15)  # 15 days since Argo CD last sent it (the 14-day default)
    assert (await job.run()).inbox == 1
    assert await pruned(herald, "inbox") == 1
