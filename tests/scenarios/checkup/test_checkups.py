"""Checkups end to end: real Prometheus data, verdicts in threads, pages, auto-rollback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.catalog import Catalog
from bot.domain.deploy.context import SYSTEM_ACTOR
from bot.domain.deploy.rollback import RollbackKind, RollbackPlan
from bot.domain.text import text
from bot.scheduling import JOB_ID, CheckupClock
from bot.slack.ids import ActionId
from bot.store.audit import SqlAuditLog
from bot.store.database import Database, create_engine
from bot.store.tables import CheckupRow
from tests.conftest import FEED, OPS, Herald
from tests.harness.release_metrics import HEALTHY, SPIKED
from tests.scenarios.checkup.world import (
    CATALOG,
    ROUTING_KEY,
    SHA,
    CheckupWorld,
    alert_body,
    deploy,
)
from tests.slack.reply import buttons_in
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow


async def test_healthy_release_gets_a_green_report_and_no_page(world: CheckupWorld) -> None:
    herald = await world.start()
    await deploy(herald, service=HEALTHY, release_id="rel-ok")
    await eventually(lambda: len(world.reports("rel-ok")) == 1, timeout=10)
    report = world.reports("rel-ok")[0]
    assert report.startswith(":large_green_circle: Checkup +15m of rel-ok: *GREEN*")
    assert "signal · baseline → now · verdict" in report
    assert world.pagerduty.events == []
    _, body = await herald.call("GET", "/api/v1/releases/rel-ok")
    assert body["release"]["state"] == "release.deployed"


async def test_error_spike_is_red_pages_once_fails_and_rolls_back(world: CheckupWorld) -> None:
    herald = await world.start()
    await deploy(herald, service=SPIKED, release_id="rel-bad")
    await eventually(lambda: len(world.pagerduty.events) == 1, timeout=10)
    page = world.pagerduty.events[0]
    assert page["routing_key"] == ROUTING_KEY
    assert page["dedup_key"] == "herald:rel:rel-bad"
    assert page["payload"]["summary"].startswith(
        "release.failed | payments | prod | v1.42.0 (rel-bad) — "
    )
    assert "R1" in page["payload"]["custom_details"]["rules"]
    links = {link["text"]: link["href"] for link in page["links"]}
    assert links["Argo CD"] == f"{world.argocd.url}/applications/payments-prod"
    assert links["Release in Slack"].startswith("https://slack.com/archives/CFEED/p")
    await eventually(
        lambda: len(world.ops_reports("rel-bad")) == 1 and len(world.reports("rel-bad")) == 1,
        timeout=10,
    )
    report = world.reports("rel-bad")[0]
    assert report.startswith(":red_circle: Checkup +15m of rel-bad: *RED*")
    assert "\nR1 error_ratio: 5xx ratio 8.00% vs baseline 0.21%" in report
    [red] = [m for m in world.slack.messages(FEED) if m.text.startswith(":red_circle: Checkup")]
    roll_back = buttons_in(red.blocks)[ActionId.ROLLBACK_START]  # where the decision is made
    assert json.loads(roll_back.value) == {"service": "payments", "env": "prod"}
    ops = [m.text for m in world.slack.posted("COPS")]
    assert len(ops) == 1 and ops[0].startswith(":warning: release.failed | payments | prod")
    assert "PagerDuty: on-call paged" in ops[0]
    rollout = world.argocd.app("payments-prod").rollout
    await eventually(lambda: rollout is not None and rollout.aborted, timeout=10)
    await eventually(lambda: in_state(herald, "rel-bad", "release.rolled_back"), timeout=10)
    await eventually(
        lambda: world.thread("COPS", "rel-bad")[-1].endswith(
            "Automatic rollback done. To resume: fix forward or revert the change in Git so a"
            " new revision rolls out (or retry this one with `kubectl argo rollouts retry"
            " rollout payments -n payments`), then take the canary on with"
            " `/deploy promote payments prod`."
        ),
        timeout=10,
    )
    status, _ = await herald.post_event("rel-bad", event="release.recovered")
    assert status == 201
    await eventually(lambda: world.pagerduty.open_alerts() == [], timeout=10)
    assert [e["event_action"] for e in world.pagerduty.events] == ["trigger", "resolve"]


async def test_the_shortest_checkup_offset_the_catalogue_accepts_judges_the_release(
    world: CheckupWorld,
) -> None:
    raw = CATALOG.model_dump(exclude_none=True)
    raw["services"][SPIKED]["checkups"] = ["7m"]
    early = Catalog.model_validate(raw)
    herald = await world.start(catalog=early)
    await deploy(herald, service=SPIKED, release_id="rel-early")
    await eventually(lambda: len(world.reports("rel-early")) == 1, timeout=10)
    report = world.reports("rel-early")[0]
    assert report.startswith(":red_circle: Checkup +7m of rel-early: *RED*")
    assert report.endswith("\nR5 burn: burn rate 80.0× (P) and 80.0× (5m) ≥ 14.4× of a 99.9% SLO")


async def test_prometheus_unreachable_is_unknown_never_green(world: CheckupWorld) -> None:
    herald = await world.start(prometheus_url="http://127.0.0.1:9")
    await deploy(herald, service=HEALTHY, release_id="rel-dark")
    await eventually(lambda: len(world.reports("rel-dark")) == 1, timeout=10)
    assert ":white_circle: Checkup +15m of rel-dark: *UNKNOWN*" in world.reports("rel-dark")[0]
    assert world.pagerduty.events == []


async def test_checkups_due_while_herald_was_down_run_once_on_start_marked_late(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)  # R+5m: nothing due yet
    herald = await world.start()
    await deploy(herald, service=HEALTHY, release_id="rel-late")
    await world.stop(herald)
    world.clock.advance(timedelta(hours=2))  # down across +15m, +30m and +1h
    herald = await world.start()
    await eventually(lambda: len(world.reports("rel-late")) == 3, timeout=15)
    reports = world.reports("rel-late")
    assert [r.split(" of ")[0].split()[-1] for r in reports] == ["+15m", "+30m", "+1h"]
    assert all("late: Herald was not running when it fell due" in r for r in reports)
    await world.stop(herald)
    herald = await world.start()  # a second restart runs nothing again
    await herald.call("GET", "/readyz")
    await stays(lambda: len(world.reports("rel-late")) == 3, seconds=0.5)


async def test_newer_deploy_supersedes_older_checkups_and_says_so(world: CheckupWorld) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start()
    await deploy(herald, service=HEALTHY, release_id="rel-a")
    await deploy(herald, service=HEALTHY, release_id="rel-b", at_minutes=1)
    await eventually(
        lambda: any("superseded it" in t for t in world.thread("CFEED", "rel-a")), timeout=10
    )
    note = next(t for t in world.thread("CFEED", "rel-a") if "superseded it" in t)
    assert note == (
        "Checkups +15m, +30m, +1h, +24h of rel-a were cancelled: rel-b (v1.42.0) superseded it."
    )


async def test_the_timer_never_drops_a_late_run() -> None:
    timer = CheckupClock(database=None, runner=None, clock=datetime.now)  # type: ignore[arg-type]
    timer.start()
    try:
        job = timer.scheduler.get_job(JOB_ID)
        assert job is not None
        assert job.misfire_grace_time is None  # APScheduler's default (1 s) drops late runs
        assert job.coalesce and job.max_instances == 1
    finally:
        timer.shutdown()


@pytest.fixture
async def pg_world(world: CheckupWorld, postgres_url: str) -> AsyncIterator[CheckupWorld]:
    """The world on a real PostgreSQL database; every Herald stops before it is dropped."""
    world.database_url = postgres_url
    yield world
    for runner in list(world.runners):
        await runner.cleanup()
    world.runners.clear()


@pytest.mark.postgres
async def test_two_heralds_on_one_postgresql_run_each_checkup_and_page_once(
    pg_world: CheckupWorld,
) -> None:
    world = pg_world
    world.clock.now -= timedelta(minutes=11)  # R+5m: deploy before anything is due
    first = await world.start()
    await deploy(first, service=SPIKED, release_id="rel-pg")
    await deploy(first, service=HEALTHY, release_id="rel-pg-ok")
    second = await world.start()  # a replica: its own engine, pool, scheduler and workers
    world.clock.advance(timedelta(minutes=50))  # +15m and +30m due for both releases
    await eventually(
        lambda: len(world.reports("rel-pg")) == 2 and len(world.reports("rel-pg-ok")) == 2,
        timeout=20,
    )
    await eventually(lambda: len(world.pagerduty.events) >= 1, timeout=10)
    await stays(  # both replicas keep ticking: nothing more may appear
        lambda: (
            len(world.reports("rel-pg")) == 2
            and len(world.reports("rel-pg-ok")) == 2
            and len(world.pagerduty.events) == 1
        ),
        seconds=1.0,
    )
    assert [e["event_action"] for e in world.pagerduty.events] == ["trigger"]
    assert len(world.slack.posted("COPS")) == 1
    assert first.url != second.url


async def test_a_critical_release_alert_pages_once(world: CheckupWorld) -> None:
    world.clock.now -= timedelta(minutes=11)  # no checkup due: only the alert can page
    herald = await world.start()
    await deploy(herald, service=HEALTHY, release_id="rel-alert")
    body = alert_body("rel-alert", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    again = alert_body("rel-alert", starts_at=world.clock.now, fingerprint="0ddba11")
    assert (await herald.call("POST", "/hooks/alertmanager", json=again))[0] == 200
    await eventually(lambda: len(world.pagerduty.events) == 1, timeout=5)
    await stays(lambda: len(world.pagerduty.events) == 1, seconds=0.5)
    assert "5xx ratio above 5% on /checkout" in world.pagerduty.events[0]["payload"]["summary"]


async def _crash_after_red_verdict(
    world: CheckupWorld, release_id: str, *, plan: str | None
) -> None:
    """The state a crash leaves between a red verdict (recorded with the rollback it owes)
    and the end of that rollback, once the dead runner's lease has run out."""
    database = Database(create_engine(world.database_url))
    try:
        async with database.transaction() as session:
            result = {"color": "red", **({"rollback_plan": plan} if plan else {})}
            await session.execute(
                update(CheckupRow)
                .where(
                    col(CheckupRow.release_id) == release_id, col(CheckupRow.offset_seconds) == 900
                )
                .values(
                    state="rollback",
                    color="red",
                    result=result,
                    finished_at=world.clock(),
                    lease_until=world.clock() - timedelta(seconds=1),
                )
            )
    finally:
        await database.close()


async def in_state(herald: Herald, release_id: str, state: str) -> bool:
    _, body = await herald.call("GET", f"/api/v1/releases/{release_id}")
    return bool(body["release"]["state"] == state)


@pytest.mark.parametrize("planned", [False, True], ids=["before-planning", "after-claiming"])
async def test_an_auto_rollback_cut_short_by_a_crash_is_carried_out_once_on_restart(
    world: CheckupWorld, planned: bool
) -> None:
    world.clock.now -= timedelta(minutes=11)  # R+5m: nothing due on its own
    herald = await world.start()
    await deploy(herald, service=SPIKED, release_id="rel-crash")
    await world.stop(herald)
    plan = None
    if planned:  # the plan was kept and the claim taken, then Herald died before Argo CD
        plan = RollbackPlan(
            SPIKED, "prod", RollbackKind.ABORT, text("Abort"), release_id="rel-crash"
        )
        database = Database(create_engine(world.database_url))
        key = f"rollback:{SPIKED}:prod:rel-crash:abort:None"
        claim = await SqlAuditLog(database=database).claim(
            key=key, actor=SYSTEM_ACTOR, at=world.clock()
        )
        await database.close()
        assert claim.won
    await _crash_after_red_verdict(world, "rel-crash", plan=plan.encode() if plan else None)
    herald = await world.start()
    rollout = world.argocd.app("payments-prod").rollout
    await eventually(lambda: rollout is not None and rollout.aborted, timeout=10)
    await eventually(lambda: in_state(herald, "rel-crash", "release.rolled_back"), timeout=10)
    await world.stop(herald)
    world.clock.advance(timedelta(minutes=9))  # past any lease: nothing is left to resume
    await world.start()
    await stays(lambda: len(world.aborts()) == 1, seconds=0.5)
    assert world.reports("rel-crash") == []  # the report was posted before the crash, not again
    assert world.pagerduty.events == []


async def test_an_auto_rollback_owed_for_too_long_is_left_to_a_person_and_the_thread_says_so(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)  # R+5m: nothing due on its own
    herald = await world.start()
    await deploy(herald, service=SPIKED, release_id="rel-stale")
    await world.stop(herald)
    await _crash_after_red_verdict(world, "rel-stale", plan=None)
    world.clock.advance(timedelta(minutes=45))  # Herald stayed down well past the verdict
    herald = await world.start()

    def said() -> list[str]:
        return [
            t
            for t in world.thread(OPS, "rel-stale") + world.thread(FEED, "rel-stale")
            if "Auto-rollback not resumed" in t
        ]

    await eventually(lambda: len(said()) == 1, timeout=10)
    assert "the +15m red verdict is 35 min old, too old to act on unattended" in said()[0]
    assert "`/deploy rollback`" in said()[0]
    # the +30m checkup, due while Herald was down, judged red afresh: that one rolled back
    await eventually(lambda: len(world.aborts()) == 1, timeout=10)
    await stays(lambda: len(said()) == 1 and len(world.aborts()) == 1, seconds=0.5)


async def test_each_deploy_goes_on_the_pagerduty_timeline_once_and_pages_nobody(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)  # no checkup due: only the deploy is sent
    herald = await world.start()
    await deploy(herald, service=HEALTHY, release_id="rel-change")
    await eventually(lambda: len(world.pagerduty.change_events) == 1, timeout=10)
    change = world.pagerduty.change_events[0]
    assert change["routing_key"] == ROUTING_KEY
    assert change["payload"]["summary"] == (
        f"release.deployed | {HEALTHY} | prod | v1.42.0 (rel-change)"
    )
    assert change["payload"]["source"] == f"herald/{HEALTHY}/prod"
    assert change["payload"]["custom_details"]["commit"] == SHA[:7]
    await world.stop(herald)
    await world.start()
    await stays(lambda: len(world.pagerduty.change_events) == 1, seconds=0.5)
    assert world.pagerduty.events == []  # a change event never pages


async def test_change_events_can_be_turned_off(world: CheckupWorld) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(pagerduty_change_events=False)
    await deploy(herald, service=HEALTHY, release_id="rel-quiet")
    await eventually(lambda: len(world.slack.posted("CFEED")) >= 3, timeout=10)
    await stays(lambda: world.pagerduty.change_events == [], seconds=0.3)
