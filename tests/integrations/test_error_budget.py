"""The approval checklist's error-budget burn, read from a REAL Prometheus holding a healthy
service and an error spike: error ratio over the last hour ÷ (1 - SLO)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.domain.approval.checklist import BurnUnknown
from bot.domain.checkup.metrics import ServiceQueries
from bot.integrations.error_budget import PrometheusBurn
from bot.integrations.prometheus_client import PrometheusClient
from tests.harness.prometheus import PrometheusServer
from tests.harness.release_metrics import HEALTHY, PER_STEP, RELEASE, SPIKE, SPIKED

HOUR_LATER = RELEASE + timedelta(hours=1)  # the last hour is all spike for payments


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def gauge(session: aiohttp.ClientSession, url: str) -> PrometheusBurn:
    client = PrometheusClient(session=session, base_url=url, retries=0, timeout_seconds=2)
    return PrometheusBurn(client, queries=lambda service: ServiceQueries())


async def test_a_spiking_service_burns_its_budget_eighty_times_too_fast(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    burn = gauge(session, prometheus.url)
    spiked = await burn.burn(service=SPIKED, env="prod", slo=0.999, at=HOUR_LATER)
    assert spiked == pytest.approx(SPIKE / PER_STEP / 0.001, rel=0.02)  # 8 % errors: 80×
    healthy = await burn.burn(service=HEALTHY, env="prod", slo=0.999, at=HOUR_LATER)
    assert healthy == pytest.approx(0.2 / 100 / 0.001, rel=0.05)  # 1 in 500: 2×


async def test_a_service_without_traffic_or_a_prometheus_that_is_down_is_unknown(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(BurnUnknown, match="no traffic in the last hour"):
        await gauge(session, prometheus.url).burn(
            service="search", env="prod", slo=0.999, at=HOUR_LATER
        )
    with pytest.raises(BurnUnknown):
        await gauge(session, "http://127.0.0.1:9").burn(
            service=SPIKED, env="prod", slo=0.999, at=HOUR_LATER
        )
