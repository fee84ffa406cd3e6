"""A game day with real parts: CI deploys `webapp`, traffic flows, its error ratio jumps to
20 %. Real Prometheus and Alertmanager see it, Herald pages on-call once, rolls the release
back once at Argo CD, the cluster comes back healthy, and the ops thread tells the story.

The tests share one world (tests/gameday/conftest.py) and run in this order; each plays the
steps it needs, which are done once whoever asks first.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from tests.conftest import FEED, OPS
from tests.gameday.world import APP, OLD_SHA, GameDay
from tests.waiting import stays

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
DEPLOYED = ["release.planned", "release.started", "release.deployed"]
FIRST_VERDICT_WITHIN = 60.0  # s after the deploy (docs/verdict.md §3.6)
RECOVERED_WITHIN = 45.0  # s after the service is healthy again
_STAMP = re.compile(r"^\d\d:\d\d:\d\d UTC · ")


async def test_the_first_verdict_is_posted_in_the_feed_thread_within_60_s_of_the_deploy(
    world: GameDay,
) -> None:
    await world.deploy()
    deployed = world.timeline().deployed
    assert deployed is not None
    left = deployed + FIRST_VERDICT_WITHIN - time.monotonic()
    await world.wait(
        lambda: world.timeline().first_verdict is not None,
        timeout=max(left, 0.0),
        what="the early watch's message showing a colour within 60 s of the deploy",
    )


async def test_a_spike_pages_once_rolls_back_once_and_one_ops_thread_tells_the_story(
    world: GameDay,
) -> None:
    release_id = await world.deploy()  # CI: the manifest, then started and deployed
    await world.wait(lambda: _feed(world) == DEPLOYED, timeout=10)
    await world.traffic_flows()
    assert world.timeline().alerted is None  # 1 % of errors alerts nobody

    world.spike(0.2)
    await world.wait(lambda: _said(world, OPS, "Automatic rollback done."), timeout=30)
    assert [e["event_action"] for e in world.pagerduty.events] == ["trigger"]
    assert len(world.pagerduty.alerts_for(f"herald:rel:{release_id}")) == 1
    assert _rollbacks(world) == [f"/api/v1/applications/{APP}/rollback"]
    app = world.argocd.app(APP)
    assert app.revision == OLD_SHA and not app.auto_sync
    failed = [*DEPLOYED, "release.failed", "release.rolled_back"]
    await world.wait(lambda: _feed(world) == failed, timeout=10)

    incidents = world.slack.posted(OPS)
    assert len(incidents) == 1
    assert incidents[0].text.startswith(":warning: release.failed | webapp | prod | v1.42.0")
    assert "Symptom: critical alert SyntheticErrorRatioHigh: webapp: 5xx ratio" in incidents[0].text
    steps = [_STAMP.sub("", t) for t in world.thread(OPS)]
    assert steps[0].startswith(
        ":rewind: Rolling back automatically on *SyntheticErrorRatioHigh* (critical): it fired"
    )
    assert steps[1].startswith(":rewind: release.rolled_back | webapp | prod | v1.42.0")
    assert steps[2].startswith(
        f"Herald, automatically: Rolled `webapp` prod back to revision {OLD_SHA[:7]}"
        f" (Argo CD `{APP}` history #1). Turned automated sync OFF for `{APP}`"
    )
    assert steps[3] == (
        ":white_check_mark: Automatic rollback done. To resume: revert or fix the change in Git,"
        f" turn automated sync back on for `{APP}` (Herald turned it off), then deploy the fixed"
        " release."
    )

    # the rolled-back pods serve at the old ratio: the alert resolves, and the thread hears it
    resolved = ":white_check_mark: Alert resolved: *SyntheticErrorRatioHigh*"
    await world.wait(lambda: _said(world, OPS, resolved), timeout=20)
    await stays(lambda: _nothing_twice(world), seconds=1.0)


async def test_after_the_rollback_health_back_posts_release_recovered_with_its_time_to_restore(
    world: GameDay,
) -> None:
    await world.deploy()
    await world.traffic_flows()
    world.spike(0.2)
    await world.wait(lambda: world.timeline().healed is not None, timeout=30)
    healed = world.timeline().healed
    assert healed is not None
    left = healed + RECOVERED_WITHIN - time.monotonic()
    await world.wait(
        lambda: world.timeline().recovered is not None,
        timeout=max(left, 0.0),
        what=f"release.recovered in the feed within {RECOVERED_WITHIN:g} s of health back",
    )
    recovered = [m.text for m in world.feed() if m.event == "release.recovered"]
    assert len(recovered) == 1
    assert "Time to recover: " in recovered[0] and "Time to recover: n/a" not in recovered[0]


def _feed(world: GameDay) -> list[str | None]:
    return [m.event for m in world.feed()]


def _said(world: GameDay, channel: str, words: str) -> bool:
    return any(words in text for text in world.thread(channel))


def _rollbacks(world: GameDay) -> list[str]:
    return [c.path for c in world.argocd.calls if c.method == "POST" and "rollback" in c.path]


def _nothing_twice(world: GameDay) -> bool:
    """No message twice in a channel or thread, one page, one rollback, one sync change."""
    said = Counter((m.channel, m.thread_ts, m.text) for m in world.timeline().messages)
    patches = [c for c in world.argocd.calls if c.method == "PATCH"]
    triggers = [e for e in world.pagerduty.events if e["event_action"] == "trigger"]
    return (
        max(said.values()) == 1
        and len(_rollbacks(world)) == 1
        and len(patches) == 1
        and len(triggers) == 1
        and {m.channel for m in world.timeline().messages} == {FEED, OPS}
    )
