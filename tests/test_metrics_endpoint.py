"""`GET /metrics`: release figures from the store, Herald's own health, one registry per app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update
from sqlmodel import col, func, select

from bot.deps import DEPS
from bot.examples import example_manifest
from bot.observability import METRICS, HeraldMetrics
from bot.store.tables import CheckupRow, OutboxRow
from standins.slack import FakeSlack
from tests.conftest import Herald, SettingsFactory, start_herald
from tests.metric_samples import Samples, samples_of, value
from tests.slack.conversation import Conversation
from tests.waiting import eventually

WEBAPP = {"service": "webapp", "env": "prod"}
API = {"service": "api", "env": "staging"}


class Anchor:
    """What a test's history is relative to: when the test runs (set by `_anchor`)."""

    now = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _anchor() -> None:
    Anchor.now = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def quiet_herald(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Herald]:
    """Herald without its workers: nothing is delivered and no checkup runs by itself."""
    runner = await start_herald(make_settings(database_url=database_url), deliver=False)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


async def scrape(herald: Herald) -> Samples:
    async with herald.session.get(herald.url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return samples_of(text)


def at(delta: timedelta) -> str:
    return (Anchor.now + delta).isoformat()


async def release(herald: Herald, rid: str, where: dict[str, str], *events: dict[str, Any]) -> None:
    manifest = {**example_manifest(), "id": rid, "version": f"1.0.{len(rid)}", **where}
    status, body = await herald.post_manifest(manifest)
    assert status == 201, body
    for event in events:
        status, body = await herald.post_event(rid, **event)
        assert status == 201, body


def started(delta: timedelta) -> dict[str, Any]:
    return {"event": "release.started", "at": at(delta)}


def deployed(delta: timedelta, lead: float) -> dict[str, Any]:
    return {"event": "release.deployed", "at": at(delta), "lead_time_seconds": lead}


def event(name: str, delta: timedelta) -> dict[str, Any]:
    return {"event": f"release.{name}", "at": at(delta)}


H, M = timedelta(hours=1), timedelta(minutes=1)


async def post_history(herald: Herald) -> None:
    """webapp/prod: 3 started, 2 deployed, 2 failed (one after deploying, rolled back),
    1 only planned; api/staging: 2 deployed, the first two days ago."""
    await release(herald, "w1", WEBAPP, started(-3 * H), deployed(-3 * H + M, lead=600))
    await release(
        herald,
        "w2",
        WEBAPP,
        started(-2 * H - M),
        deployed(-2 * H, lead=7200),  # exactly on a bucket bound: counted in le="7200"
        event("failed", -H),
        event("rolled_back", -H + 5 * M),
        event("recovered", -H + 15 * M),  # 900 s, exactly on a bucket bound
    )
    await release(
        herald,
        "w3",
        WEBAPP,
        started(-30 * M),
        event("failed", -29 * M),
        event("recovered", -27 * M),  # fixed forward after 120 s, never deployed
    )
    await release(herald, "w4", WEBAPP)
    await release(herald, "a1", API, started(-48 * H), deployed(-48 * H + M, lead=90_000))
    await release(herald, "a2", API, started(-21 * M), deployed(-20 * M, lead=30))


async def finish_checkup(
    herald: Herald, rid: str, offset: timedelta, *, color: str, finished: timedelta, **extra: Any
) -> None:
    database = herald.runner.app[DEPS].database
    async with database.transaction() as session:
        await session.execute(
            update(CheckupRow)
            .where(
                col(CheckupRow.release_id) == rid,
                col(CheckupRow.offset_seconds) == int(offset.total_seconds()),
            )
            .values(state="done", color=color, finished_at=Anchor.now + finished, **extra)
        )


async def test_release_counters_and_histograms_come_from_the_store(quiet_herald: Herald) -> None:
    await post_history(quiet_herald)
    samples = await scrape(quiet_herald)

    assert value(samples, "release_started_total", **WEBAPP) == 3
    assert value(samples, "release_completed_total", **WEBAPP, result="success") == 2
    assert value(samples, "release_completed_total", **WEBAPP, result="failure") == 2
    assert value(samples, "release_completed_total", **WEBAPP, result="rolled_back") == 1
    assert value(samples, "release_started_total", **API) == 2
    assert value(samples, "release_completed_total", **API, result="success") == 2
    assert value(samples, "release_completed_total", **API, result="failure") == 0
    assert value(samples, "release_completed_total", **API, result="rolled_back") == 0

    lead = {"300": 0, "900": 1, "3600": 1, "7200": 2, "2592000": 2, "+Inf": 2}
    for le, count in lead.items():
        assert value(samples, "release_lead_time_seconds_bucket", **WEBAPP, le=le) == count, le
    assert value(samples, "release_lead_time_seconds_count", **WEBAPP) == 2
    assert value(samples, "release_lead_time_seconds_sum", **WEBAPP) == 7800
    api_lead = {"300": 1, "86400": 1, "172800": 2, "+Inf": 2}
    for le, count in api_lead.items():
        assert value(samples, "release_lead_time_seconds_bucket", **API, le=le) == count, le
    assert value(samples, "release_lead_time_seconds_sum", **API) == 90_030

    recover = {"60": 0, "300": 1, "600": 1, "900": 2, "+Inf": 2}
    for le, count in recover.items():
        assert value(samples, "release_time_to_recover_seconds_bucket", **WEBAPP, le=le) == count
    assert value(samples, "release_time_to_recover_seconds_count", **WEBAPP) == 2
    assert value(samples, "release_time_to_recover_seconds_sum", **WEBAPP) == 1020
    assert value(samples, "release_time_to_recover_seconds_count", **API) == 0
    assert value(samples, "release_time_to_recover_seconds_bucket", **API, le="+Inf") == 0


async def test_outbox_checkups_and_verdicts_come_from_the_store(quiet_herald: Herald) -> None:
    await post_history(quiet_herald)
    # a1's and w1's checkups were superseded by the next deploy; w2's and a2's are pending.
    await finish_checkup(quiet_herald, "w2", 15 * M, color="red", finished=-100 * M)
    await finish_checkup(
        quiet_herald, "w2", 30 * M, color="green", finished=-90 * M, result={"late_seconds": 120}
    )
    await finish_checkup(
        quiet_herald, "a2", 15 * M, color="unknown", finished=-M, late_seconds=90.0
    )
    await finish_checkup(quiet_herald, "a1", 24 * H, color="red", finished=-H)  # deployed 2 d ago
    samples = await scrape(quiet_herald)

    states = {"pending": 5, "running": 0, "done": 4, "superseded": 7}
    for state, count in states.items():
        assert value(samples, "herald_checkups", state=state) == count, state
    assert value(samples, "herald_checkups_due") == 1  # w2 +1h; a2 +30m is not due yet
    assert value(samples, "herald_checkups_late_total") == 2
    assert value(samples, "herald_checkups_failed_total", kind="checkup") == 1
    verdicts = {
        dict(labels)["release"]: v
        for (name, labels), v in samples.items()
        if name == "herald_release_verdict"
    }
    assert verdicts == {"w2": 0, "a2": 3}  # latest finished checkup; a1 is older than a day

    database = quiet_herald.runner.app[DEPS].database
    async with database.read() as session:
        waiting = (
            await session.execute(
                select(col(OutboxRow.sink), func.count())
                .where(col(OutboxRow.state) == "pending")
                .group_by(col(OutboxRow.sink))
            )
        ).all()
    expected = {"slack": 0, "pagerduty": 0} | {str(sink): int(n) for sink, n in waiting}
    assert expected["slack"] > 0
    for sink, count in expected.items():
        assert value(samples, "herald_outbox_depth", sink=sink) == count
        assert value(samples, "herald_outbox_dead", sink=sink) == 0
    assert value(samples, "herald_outbox_oldest_age_seconds", sink="slack") > 0
    assert value(samples, "herald_outbox_oldest_age_seconds", sink="pagerduty") == 0
    assert value(samples, "herald_metrics_snapshot_ok") == 1


async def test_process_health_metrics(quiet_herald: Herald) -> None:
    metrics = quiet_herald.runner.app[METRICS]
    metrics.observe_slack_call("chat.postMessage", 0.2, True)
    metrics.observe_slack_call("chat.postMessage", 3.0, False, "ratelimited")
    metrics.inbox_duplicate("slack")
    metrics.inbox_duplicate("slack")
    samples = await scrape(quiet_herald)

    post = {"method": "chat.postMessage"}
    assert value(samples, "herald_slack_call_seconds_count", **post) == 2
    assert value(samples, "herald_slack_call_seconds_bucket", **post, le="0.25") == 1
    assert value(samples, "herald_slack_call_seconds_sum", **post) == pytest.approx(3.2)
    assert value(samples, "herald_slack_call_errors_total", **post, error="ratelimited") == 1
    assert value(samples, "herald_inbox_duplicates_total", source="slack") == 2


async def test_the_store_snapshot_is_cached_briefly(quiet_herald: Herald) -> None:
    await release(quiet_herald, "c1", WEBAPP, started(-M))
    assert value(await scrape(quiet_herald), "release_started_total", **WEBAPP) == 1
    await release(quiet_herald, "c2", WEBAPP, started(-M))
    assert value(await scrape(quiet_herald), "release_started_total", **WEBAPP) == 1
    quiet_herald.runner.app[METRICS].snapshot_ttl_seconds = 0
    assert value(await scrape(quiet_herald), "release_started_total", **WEBAPP) == 2


def test_each_app_has_its_own_registry() -> None:
    first, second = HeraldMetrics(), HeraldMetrics()
    first.inbox_duplicate("slack")
    assert b'herald_inbox_duplicates_total{source="slack"} 1.0' in first.render(None)
    assert b"herald_inbox_duplicates_total{" not in second.render(None)
    assert b"release_started_total" not in second.render(None)  # no store snapshot, no series


async def test_a_command_carried_out_is_counted(herald: Herald, slack: FakeSlack) -> None:
    chat = Conversation(url=herald.url, session=herald.session, slack=slack)
    await chat.deploy("status")  # what is in flight: nothing

    async def answered() -> bool:
        return value(await scrape(herald), "herald_commands_total", outcome="answered") == 1

    await eventually(answered, timeout=5, what="the answered command to be counted")
    samples = await scrape(herald)
    for outcome in ("late", "failed", "too_late", "given_up"):
        assert value(samples, "herald_commands_total", outcome=outcome) == 0
