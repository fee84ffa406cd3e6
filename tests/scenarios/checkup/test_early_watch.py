"""The early watch and the recovery watch, against a real Prometheus holding release metrics.

The clock is Herald's: each step moves it 15 s, the watch's interval, and the watch loop
(ticking every 50 ms of real time) judges the release again at the new time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.catalog import Catalog
from tests.conftest import FEED, OPS, Herald
from tests.harness.release_metrics import HEALTHY, RELEASE, SPIKED
from tests.scenarios.checkup.world import CATALOG, CheckupWorld, alert_body, deploy
from tests.waiting import eventually

STEP = timedelta(seconds=15)
TICK = 0.05  # the watch loop, in real seconds


def watching(world: CheckupWorld, release_id: str, channel: str = FEED) -> list[str]:
    """The watch messages in the release's thread (the one message, edited in place)."""
    return [t for t in world.thread(channel, release_id) if "watch:" in t.split("\n")[0]]


def turned(world: CheckupWorld, release_id: str, channel: str = FEED) -> list[str]:
    return [t for t in world.thread(channel, release_id) if " watch turned " in t]


async def judged(world: CheckupWorld, release_id: str, times: int, channel: str = FEED) -> None:
    """Wait until the watch's message says it was judged `times` times."""
    said = f"Judged {times} time"
    await eventually(
        lambda: any(said in t for t in watching(world, release_id, channel)),
        timeout=10,
        what=f"{said} in {world.thread(channel, release_id)}",
    )


async def first_recovery_verdict(world: CheckupWorld, release_id: str) -> None:
    """The recovery watch is first judged one 15 s step after the rollback's own step."""
    world.clock.advance(2 * STEP)
    await judged(world, release_id, 1, OPS)


async def step(world: CheckupWorld, release_id: str, times: int, channel: str = FEED) -> None:
    world.clock.advance(STEP)
    await judged(world, release_id, times, channel)


def with_watch(**watch: Any) -> Catalog:
    raw = CATALOG.model_dump(exclude_none=True)
    for service in raw["services"].values():
        service["watch"] = watch
    return Catalog.model_validate(raw)


async def test_a_healthy_release_is_green_within_a_minute_in_one_message(
    world: CheckupWorld,
) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(watch_tick_seconds=TICK)
    await deploy(herald, service=HEALTHY, release_id="rel-ok")
    await judged(world, "rel-ok", 1)
    await step(world, "rel-ok", 2)
    await step(world, "rel-ok", 3)

    [message] = watching(world, "rel-ok")
    assert "Early watch: green" in message
    assert "no regression in the release's first minutes" in message
    assert turned(world, "rel-ok") == []  # the first verdict is the message itself
    assert world.pagerduty.events == []


async def test_a_service_without_traffic_is_inconclusive_never_green(
    world: CheckupWorld,
) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(watch_tick_seconds=TICK)
    await deploy(herald, service="search", release_id="rel-quiet")  # no series in Prometheus
    await judged(world, "rel-quiet", 1)
    await step(world, "rel-quiet", 2)

    [message] = watching(world, "rel-quiet")
    assert "Early watch: inconclusive" in message
    assert "not enough traffic yet: 0 requests" in message


async def red_watch(world: CheckupWorld, herald: Herald, release_id: str) -> None:
    """Deploy the spiking release and step the clock until its watch is announced red."""
    await deploy(herald, service=SPIKED, release_id=release_id)
    await judged(world, release_id, 1)
    for times in range(2, 12):
        if any("Early watch: red" in t for t in watching(world, release_id)):
            return
        await step(world, release_id, times)
    raise AssertionError(f"never red: {watching(world, release_id)}")


async def test_a_spike_pages_fails_the_release_and_rolls_back_once(world: CheckupWorld) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(watch_tick_seconds=TICK)
    await red_watch(world, herald, "rel-bad")

    await eventually(lambda: len(world.aborts()) == 1, timeout=10, what="the canary aborted")
    [trigger] = [e for e in world.pagerduty.events if e["event_action"] == "trigger"]
    assert "rel-bad" in trigger["payload"]["summary"]
    feed = [m.text for m in world.slack.posted(FEED) if "(rel-bad)" in m.text]
    assert sum("release.failed" in t for t in feed) == 1
    await eventually(
        lambda: any("Automatic rollback done" in t for t in world.thread(OPS, "rel-bad")),
        timeout=10,
    )
    ops = world.thread(OPS, "rel-bad")
    assert any("Early watch turned" in t and "red" in t for t in ops)
    assert any("Rolling back automatically: the early watch is red" in t for t in ops)
    assert any("To resume" in t for t in ops)

    await first_recovery_verdict(world, "rel-bad")
    for times in range(2, 4):  # the recovery watch carries on: nothing is done twice
        await step(world, "rel-bad", times, OPS)
    assert len(world.aborts()) == 1
    assert len([e for e in world.pagerduty.events if e["event_action"] == "trigger"]) == 1


async def test_health_that_does_not_come_back_keeps_the_page_open(world: CheckupWorld) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(catalog=with_watch(recovery_within="1m"), watch_tick_seconds=TICK)
    await red_watch(world, herald, "rel-stuck")
    await eventually(
        lambda: any("Automatic rollback done" in t for t in world.thread(OPS, "rel-stuck")),
        timeout=10,
    )
    await first_recovery_verdict(world, "rel-stuck")
    await step(world, "rel-stuck", 2, OPS)
    world.clock.advance(timedelta(minutes=1))  # past the bound

    await eventually(
        lambda: any(
            "Health has not come back within 1m" in t for t in world.thread(OPS, "rel-stuck")
        ),
        timeout=10,
    )
    assert not any(e["event_action"] == "resolve" for e in world.pagerduty.events)
    feed = [m.text for m in world.slack.posted(FEED) if "(rel-stuck)" in m.text]
    assert not any("release.recovered" in t for t in feed)


async def roll_back_by_hand(herald: Herald, release_id: str, world: CheckupWorld) -> None:
    at = world.clock.now.isoformat()
    failed = {"event": "release.failed", "at": at, "symptom": "5xx on /checkout"}
    assert (await herald.post_event(release_id, **failed))[0] == 201
    assert (await herald.post_event(release_id, event="release.rolled_back", at=at))[0] == 201


async def test_recovery_is_confirmed_by_two_minutes_of_health(world: CheckupWorld) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(watch_tick_seconds=TICK)
    await deploy(herald, service=HEALTHY, release_id="rel-fixed")
    await judged(world, "rel-fixed", 1)
    await roll_back_by_hand(herald, "rel-fixed", world)
    await first_recovery_verdict(world, "rel-fixed")
    times = 1
    while not any("Recovery confirmed" in t for t in watching(world, "rel-fixed", OPS)):
        times += 1
        assert times < 14, world.thread(OPS, "rel-fixed")
        await step(world, "rel-fixed", times, OPS)

    await eventually(lambda: any("Recovered" in t for t in world.thread(OPS, "rel-fixed")))
    [closing] = [t for t in world.thread(OPS, "rel-fixed") if "Recovered" in t]
    assert "green for 2m" in closing and "time to restore" in closing
    await eventually(
        lambda: any(
            "release.recovered" in m.text and "(rel-fixed)" in m.text
            for m in world.slack.posted(FEED)
        ),
        timeout=10,
    )


async def test_a_resolved_alert_confirms_recovery_sooner(world: CheckupWorld) -> None:
    world.clock.now = RELEASE + timedelta(seconds=20)
    herald = await world.start(watch_tick_seconds=TICK)
    await deploy(herald, service=HEALTHY, release_id="rel-alert")
    await roll_back_by_hand(herald, "rel-alert", world)
    await first_recovery_verdict(world, "rel-alert")
    await step(world, "rel-alert", 2, OPS)

    body = alert_body("rel-alert", starts_at=RELEASE)
    resolved = {**body["alerts"][0], "status": "resolved", "endsAt": world.clock.now.isoformat()}
    notification = {**body, "status": "resolved", "alerts": [resolved]}
    assert (await herald.call("POST", "/hooks/alertmanager", json=notification))[0] == 200
    world.clock.advance(timedelta(seconds=1))
    await eventually(
        lambda: any("Recovered" in t for t in world.thread(OPS, "rel-alert")), timeout=10
    )
    [closing] = [t for t in world.thread(OPS, "rel-alert") if "Recovered" in t]
    assert "the alert resolved and health is green" in closing
