"""`/deploy metrics` and the DORA API right after a deploy: the window holds this moment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.examples import example_manifest
from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import Herald, SettingsFactory, start_herald
from tests.scenarios.deploy.world import CATALOG, DeployWorld, argo_settings

# late in a second: a window cut down to the whole second would end before this deploy
NOW = datetime(2026, 12, 1, 14, 30, 5, 900_000, tzinfo=UTC)


@pytest.fixture
async def world_at_now(
    make_settings: SettingsFactory, slack: FakeSlack, argocd: FakeArgoCD
) -> AsyncIterator[DeployWorld]:
    runner = await start_herald(
        argo_settings(make_settings, argocd), catalog=CATALOG, clock=FakeClock(NOW)
    )
    try:
        async with aiohttp.ClientSession() as session:
            yield DeployWorld(Herald(runner, session), slack, argocd)
    finally:
        await runner.cleanup()


async def test_a_release_deployed_this_moment_is_counted_right_away(
    world_at_now: DeployWorld,
) -> None:
    herald = world_at_now.herald
    assert (await herald.post_manifest(example_manifest()))[0] == 201
    for event in ("release.started", "release.deployed"):
        assert (await herald.post_event("rel-2025-10-02.3", event=event))[0] == 201

    body = (await world_at_now.deploy("metrics webapp prod 7d")).block_text
    assert "*Deployment frequency*\n" in body
    assert " · 1 deploys" in body  # the deploy of this very moment

    status, dora = await herald.call("GET", "/api/v1/dora?service=webapp&env=prod&window=7d")
    assert status == 200
    assert dora["figures"]["deploy_frequency_per_day"]["count"] == 1
    assert dora["window"]["start"] < NOW.isoformat() < dora["window"]["end"]
