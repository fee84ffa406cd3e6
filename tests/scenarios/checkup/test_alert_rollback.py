"""A critical release alert through the real webhook: page, release.failed, one automatic
rollback at the Argo CD stand-in, every step in the ops thread; and the guardrails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.store.audit import SqlAuditLog
from bot.store.database import Database, create_engine
from bot.store.tables import CheckupRow
from tests.conftest import FEED, OPS, Herald
from tests.harness.release_metrics import RELEASE, SPIKED
from tests.scenarios.checkup.world import (
    CATALOG,
    OLD_SHA,
    CheckupWorld,
    alert_body,
    deploy,
    with_policy,
)
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow
ON_ALERT = with_policy({"on_red": True, "on_alert": True})


async def test_a_critical_alert_rolls_the_release_back_once_and_says_how_to_resume(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)  # R+5m: no checkup due, only the alert acts
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-hot")
    body = alert_body("rel-hot", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: len(world.pagerduty.events) == 1, timeout=10)
    assert world.aborts() == ["/api/v1/applications/payments-prod/resource/actions/v2"]
    assert await _state(herald, "rel-hot") == "release.rolled_back"
    ops = [m.text for m in world.slack.posted(OPS)]
    assert len(ops) == 1 and ops[0].startswith(":warning: release.failed | payments | prod")
    assert "critical alert HighErrorRate: 5xx ratio above 5% on /checkout" in ops[0]
    await eventually(lambda: _resumed(world, "rel-hot"), timeout=10)
    at = f"{world.clock.now:%H:%M:%S} UTC"
    thread = world.thread(OPS, "rel-hot")
    steps = [thread[0], thread[2], thread[3]]  # [1] is the release.rolled_back message
    assert steps == [
        f"{at} · :rewind: Rolling back automatically on *HighErrorRate* (critical): it fired at"
        f" {at}, after the release, and the service's `auto_rollback` has `on_alert`;"
        " on-call is paged.",
        "Herald, automatically: Aborted the canary of `payments` prod; traffic is back on stable."
        " Automated sync is on for `payments-prod`, so Argo CD keeps the bad revision in the"
        " Rollout: it stays aborted until the change is reverted or fixed in Git (a retry before"
        " that starts the same canary again).",
        f"{at} · :white_check_mark: Automatic rollback done. To resume: fix forward or revert"
        " the change in Git so a new revision rolls out (or retry this one with"
        " `kubectl argo rollouts retry rollout payments -n payments`), then take the canary on"
        " with `/deploy promote payments prod`.",
    ]
    assert thread[1].startswith(":rewind: release.rolled_back | payments | prod")

    # Alertmanager repeats the group: dropped. Another alert: the release is rolled back.
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[1] == {"duplicate": True}
    other = alert_body("rel-hot", starts_at=world.clock.now, fingerprint="0ddba11")
    assert (await herald.call("POST", "/hooks/alertmanager", json=other))[0] == 200
    await eventually(lambda: len(world.thread(OPS, "rel-hot")) == len(thread) + 2, timeout=10)
    alert_note, why_not = world.thread(OPS, "rel-hot")[-2:]
    assert alert_note.startswith(":rotating_light: Alert firing: *HighErrorRate*")
    assert why_not == (
        f"{at} · Not rolling back automatically on *HighErrorRate*: it was rolled back at {at}."
    )
    await stays(lambda: len(world.aborts()) == 1 and len(world.pagerduty.events) == 1, seconds=0.5)


async def test_without_on_alert_a_critical_alert_only_pages(world: CheckupWorld) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=CATALOG)  # auto_rollback: true is a red checkup only
    await deploy(herald, service=SPIKED, release_id="rel-page")
    body = alert_body("rel-page", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: len(world.pagerduty.events) == 1, timeout=10)
    await stays(lambda: world.aborts() == [] and world.slack.posted(OPS) == [], seconds=0.5)
    assert await _state(herald, "rel-page") == "release.deployed"


async def test_without_a_canary_argo_cd_goes_back_and_the_thread_says_to_re_enable_sync(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=with_policy({"on_alert": True}, rollout=False))
    await deploy(herald, service=SPIKED, release_id="rel-sync")
    body = alert_body("rel-sync", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: _resumed(world, "rel-sync"), timeout=10)
    app = world.argocd.app("payments-prod")
    assert app.revision == OLD_SHA and not app.auto_sync
    assert world.rollbacks() == ["/api/v1/applications/payments-prod/rollback"]
    assert world.thread(OPS, "rel-sync")[-1] == (
        f"{world.clock.now:%H:%M:%S} UTC · :white_check_mark: Automatic rollback done. To resume:"
        " revert or fix the change in Git, turn automated sync back on for `payments-prod`"
        " (Herald turned it off), then deploy the fixed release."
    )
    assert await _state(herald, "rel-sync") == "release.rolled_back"


async def test_an_alert_on_a_release_that_is_no_longer_the_newest_pages_only(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-old")
    await deploy(herald, service=SPIKED, release_id="rel-newer", at_minutes=1)
    body = alert_body("rel-old", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: _said_why_not(world, "rel-old"), timeout=10)
    assert _why_not(world, "rel-old").endswith(": it is no longer the newest: `rel-newer`.")
    assert len(world.pagerduty.events) == 1
    await stays(lambda: world.aborts() == [], seconds=0.3)


async def test_an_alert_that_started_before_the_release_pages_only(world: CheckupWorld) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-early")  # started at R-10m
    before = RELEASE - timedelta(minutes=20)
    body = alert_body("rel-early", starts_at=before)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: _said_why_not(world, "rel-early"), timeout=10)
    began = RELEASE - timedelta(minutes=10)  # a canary begins when it starts
    assert _why_not(world, "rel-early").endswith(
        f": the alert started at {before:%H:%M:%S} UTC, before the release did"
        f" ({began:%H:%M:%S} UTC)."
    )
    assert len(world.pagerduty.events) == 1
    await stays(lambda: world.aborts() == [], seconds=0.3)


async def test_a_release_a_checkup_rolled_back_automatically_is_not_rolled_back_again(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-taken")
    database = Database(create_engine(world.database_url))  # the claim a red checkup took
    taken = await SqlAuditLog(database=database).claim(
        key="auto-rollback:rel-taken", actor="herald:checkup:1", at=world.clock()
    )
    await database.close()
    assert taken.won
    body = alert_body("rel-taken", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: _said_why_not(world, "rel-taken"), timeout=10)
    assert _why_not(world, "rel-taken").endswith(
        f": Herald already rolled this release back automatically at {world.clock.now:%H:%M:%S}"
        " UTC."
    )
    await stays(lambda: world.aborts() == [], seconds=0.3)


async def test_after_an_alert_rolled_back_a_red_checkup_does_not_roll_back_again(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-both")
    body = alert_body("rel-both", starts_at=world.clock.now)
    assert (await herald.call("POST", "/hooks/alertmanager", json=body))[0] == 200
    await eventually(lambda: _resumed(world, "rel-both"), timeout=10)
    rolled_at = world.clock.now
    world.clock.advance(timedelta(minutes=11))  # +15m is due: the spike makes it red
    await eventually(lambda: len(world.ops_reports("rel-both")) == 1, timeout=10)
    assert world.ops_reports("rel-both")[0].startswith(":red_circle: Checkup +15m of rel-both")
    await eventually(lambda: _checkup_acted(world, "rel-both"), timeout=10)
    assert await _checkup_actions(world, "rel-both") == [
        "Auto-rollback not carried out: Herald already rolled this release back automatically"
        f" at {rolled_at:%H:%M:%S} UTC."
    ]
    assert len(world.aborts()) == 1 and world.rollbacks() == []
    assert [e["event_action"] for e in world.pagerduty.events] == ["trigger"]


def _said_why_not(world: CheckupWorld, release_id: str) -> bool:
    return any("Not rolling back automatically" in t for t in _threads(world, release_id))


def _why_not(world: CheckupWorld, release_id: str) -> str:
    return next(t for t in _threads(world, release_id) if "Not rolling back automatically" in t)


def _threads(world: CheckupWorld, release_id: str) -> list[str]:
    return world.thread(FEED, release_id) + world.thread(OPS, release_id)


async def _checkup_acted(world: CheckupWorld, release_id: str) -> bool:
    return bool(await _checkup_actions(world, release_id))


async def _checkup_actions(world: CheckupWorld, release_id: str) -> list[str]:
    database = Database(create_engine(world.database_url))
    try:
        async with database.read() as session:
            rows = await session.execute(
                select(CheckupRow.result).where(
                    col(CheckupRow.release_id) == release_id, col(CheckupRow.offset_seconds) == 900
                )
            )
            result = rows.scalars().first() or {}
    finally:
        await database.close()
    return list(result.get("actions", []))


def _resumed(world: CheckupWorld, release_id: str) -> bool:
    return any("To resume:" in t for t in world.thread(OPS, release_id))


async def _state(herald: Herald, release_id: str) -> str:
    _, body = await herald.call("GET", f"/api/v1/releases/{release_id}")
    return str(body["release"]["state"])


async def test_a_rollback_an_alert_claimed_before_a_crash_is_carried_out_once(
    world: CheckupWorld,
) -> None:
    world.clock.now -= timedelta(minutes=11)
    herald = await world.start(catalog=ON_ALERT)
    await deploy(herald, service=SPIKED, release_id="rel-cut")
    database = Database(create_engine(world.database_url))  # Herald died right after this
    audit = SqlAuditLog(database=database)
    cut = await audit.claim(
        key="auto-rollback:rel-cut", actor="herald:alert:c0ffee0123456789", at=world.clock()
    )
    assert cut.won
    await stays(lambda: world.aborts() == [], seconds=0.5)  # not before the grace is over

    world.clock.advance(timedelta(minutes=3))
    await eventually(lambda: len(world.aborts()) == 1, timeout=10, what="the rollback resumed")
    await eventually(
        lambda: any("Resuming the automatic rollback" in t for t in world.thread(OPS, "rel-cut")),
        timeout=10,
    )
    await eventually(lambda: _claim_left(audit, "auto-rollback:rel-cut"), timeout=10)
    await stays(lambda: len(world.aborts()) == 1, seconds=1.5)  # later sweeps do nothing
    await database.close()


async def _claim_left(audit: SqlAuditLog, key: str) -> bool:
    held = await audit.last_claim(key)
    return held is not None and held.left == "rolled back (resumed)"
