"""The checkup world: a real Prometheus with release metrics, PagerDuty and Argo CD stand-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.pagerduty import FakePagerDuty
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import SettingsFactory
from tests.harness.prometheus import PrometheusServer
from tests.harness.release_metrics import RELEASE
from tests.scenarios.checkup.world import OLD_SHA, SHA, CheckupWorld
from tests.specs import load_spec


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(spec=load_spec("pagerduty_events_v2_openapiv3.json")) as fake:
        yield fake


@pytest.fixture
async def argocd() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        fake.add_app(
            "payments-prod",
            revision=SHA,
            history=[(1, OLD_SHA), (2, SHA)],
            rollout=FakeRollout("payments", "payments"),
        )
        yield fake


@pytest.fixture
async def world(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
    argocd: FakeArgoCD,
    prometheus: PrometheusServer,
    sqlite_url: str,
) -> AsyncIterator[CheckupWorld]:
    clock = FakeClock(RELEASE + timedelta(minutes=16))
    async with aiohttp.ClientSession() as session:
        world = CheckupWorld(
            slack, pagerduty, argocd, clock, make_settings, prometheus.url, sqlite_url, [], session
        )
        yield world
        for runner in list(world.runners):
            await runner.cleanup()
