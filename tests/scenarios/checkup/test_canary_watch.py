"""During a canary, the early watch judges the canary's pods against the stable pods: the
Rollout's pod-template hashes come from Argo CD, the split from the metrics' label."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.examples import example_manifest
from standins.argocd import FakeArgoCD
from standins.pagerduty import FakePagerDuty
from standins.prometheus import FakePrometheus
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, OPS, SettingsFactory
from tests.harness.release_metrics import RELEASE, SPIKED
from tests.scenarios.checkup.test_early_watch import STEP, TICK, judged, watching
from tests.scenarios.checkup.world import SHA, CheckupWorld
from tests.waiting import eventually


@pytest.fixture
async def canary_world(
    make_settings: SettingsFactory,
    slack: FakeSlack,
    pagerduty: FakePagerDuty,
    argocd: FakeArgoCD,
    sqlite_url: str,
) -> AsyncIterator[CheckupWorld]:
    """The checkup world with the Prometheus stand-in, whose canary pods (the hashes Argo CD's
    Rollout reports) serve 8 % 5xx from R on while the stable pods stay healthy."""
    status = argocd.app("payments-prod").rollout.status  # type: ignore[union-attr]
    hashes = (status["stableRS"], status["currentPodHash"])
    async with FakePrometheus() as prometheus, aiohttp.ClientSession() as session:
        prometheus.set_profile(SPIKED, "spike", release_at=RELEASE, canary=hashes)
        clock = FakeClock(RELEASE + timedelta(seconds=20))
        world = CheckupWorld(
            slack, pagerduty, argocd, clock, make_settings, prometheus.url, sqlite_url, [], session
        )
        yield world
        for runner in list(world.runners):
            await runner.cleanup()


async def test_a_bad_canary_is_judged_against_the_stable_pods_and_aborted(
    canary_world: CheckupWorld,
) -> None:
    world = canary_world
    herald = await world.start(watch_tick_seconds=TICK)
    manifest = {**example_manifest(), "id": "rel-canary", "service": SPIKED, "flags": []}
    manifest["git"] = {**manifest["git"], "commit": SHA[:7]}
    assert (await herald.post_manifest(manifest))[0] == 201
    started = {"event": "release.started", "at": RELEASE.isoformat()}
    assert (await herald.post_event("rel-canary", **started))[0] == 201  # the canary runs
    await judged(world, "rel-canary", 1)
    assert "against the stable" in watching(world, "rel-canary")[0]

    for times in range(2, 14):
        if any("Early watch: red" in t for t in watching(world, "rel-canary")):
            break
        world.clock.advance(STEP)
        await judged(world, "rel-canary", times)
    [message] = watching(world, "rel-canary")
    assert "Early watch: red" in message and "canary 5xx ratio" in message
    await eventually(lambda: len(world.aborts()) == 1, timeout=10, what="the canary aborted")
    await eventually(
        lambda: any("Automatic rollback done" in t for t in world.thread(OPS, "rel-canary")),
        timeout=10,
    )
    assert any("Early watch turned" in t for t in world.thread(FEED, "rel-canary"))
