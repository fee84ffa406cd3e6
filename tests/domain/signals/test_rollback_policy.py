"""Whether a critical release alert rolls its release back: one test per guardrail that stops
it, one where everything holds; and the sentence that says how to resume afterwards."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.deploy.rollback_plan import RollbackKind, RollbackPlan
from bot.domain.deploy.tool import DeployTarget, RolloutRef
from bot.domain.ports import HeldClaim
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.domain.services.directory import ServiceEnv
from bot.domain.signals.alerts import AlertDecision, AlertStatus
from bot.domain.signals.rollback_policy import (
    AlertRollback,
    AutoRollbackPolicy,
    Stop,
    decide_alert_rollback,
    resume_text,
    timed,
)
from bot.domain.text import text
from bot.examples import example_manifest
from bot.slack.mrkdwn import render

STARTED = datetime(2025, 10, 2, 14, 0, tzinfo=UTC)
DEPLOYED = STARTED + timedelta(minutes=10)
ON_ALERT = AutoRollbackPolicy(on_alert=True)


def release(release_id: str = "rel-new", **times: datetime) -> Release:
    """A release of webapp prod with event times given as started=…, deployed=…"""
    manifest = Manifest.model_validate({**example_manifest(), "id": release_id})
    events = {EventType(f"release.{name}"): at for name, at in times.items()}
    last = max(events, key=lambda event: events[event]) if events else None
    return Release(manifest, manifest.digest(), STARTED, state=last, times=events)


LIVE = release(started=STARTED, deployed=DEPLOYED)


def alert(**overrides: Any) -> AlertDecision:
    values: dict[str, Any] = {
        "release_id": LIVE.id,
        "fingerprint": "c0ffee0123456789",
        "status": AlertStatus.FIRING,
        "severity": "critical",
        "summary": "5xx ratio above 5%",
        "should_page": True,
        "name": "HighErrorRate",
        "starts_at": DEPLOYED + timedelta(minutes=2),
    }
    return AlertDecision(**{**values, **overrides})


def decide(
    decision: AlertDecision | None = None,
    *,
    of: Release = LIVE,
    newest: Release | None = LIVE,
    policy: AutoRollbackPolicy = ON_ALERT,
    canary: bool = False,
    claimed: HeldClaim | None = None,
) -> AlertRollback:
    return decide_alert_rollback(
        decision or alert(),
        release=of,
        newest=newest,
        policy=policy,
        canary=canary,
        claimed=claimed,
    )


def test_a_critical_alert_after_the_newest_release_rolls_it_back() -> None:
    outcome = decide()
    assert outcome.rolls_back and outcome.stop is None
    assert outcome.why.plain() == (
        "it fired at 14:12:00 UTC, after the release, and the service's auto_rollback has on_alert"
    )


@pytest.mark.parametrize(
    "decision",
    [
        alert(status=AlertStatus.RESOLVED, should_page=False),
        alert(severity="warning", should_page=False),
    ],
    ids=["resolved", "warning"],
)
def test_only_a_firing_alert_at_a_paging_severity_rolls_back(decision: AlertDecision) -> None:
    outcome = decide(decision)
    assert outcome.stop is Stop.NOT_PAGING
    assert not outcome.worth_saying  # it did not page either: nothing to explain


@pytest.mark.parametrize(
    "policy", [AutoRollbackPolicy(), AutoRollbackPolicy(on_red=True)], ids=["off", "on-red-only"]
)
def test_a_service_without_on_alert_is_paged_only(policy: AutoRollbackPolicy) -> None:
    outcome = decide(policy=policy)
    assert outcome.stop is Stop.POLICY_OFF
    assert not outcome.worth_saying


def test_a_release_rolled_back_already_is_never_rolled_back_again() -> None:
    rolled = release(
        started=STARTED,
        deployed=DEPLOYED,
        failed=DEPLOYED + timedelta(minutes=1),
        rolled_back=DEPLOYED + timedelta(minutes=1, seconds=30),
    )
    outcome = decide(of=rolled, newest=rolled)
    assert outcome.stop is Stop.ROLLED_BACK
    assert outcome.why.plain() == "it was rolled back at 14:11:30 UTC"
    assert outcome.worth_saying


def test_a_recovered_rollback_still_counts_as_rolled_back() -> None:
    recovered = release(
        started=STARTED,
        deployed=DEPLOYED,
        failed=DEPLOYED + timedelta(minutes=1),
        rolled_back=DEPLOYED + timedelta(minutes=2),
        recovered=DEPLOYED + timedelta(minutes=3),
    )
    assert decide(of=recovered, newest=recovered).stop is Stop.ROLLED_BACK


def test_what_a_rollback_went_back_to_is_never_rolled_back() -> None:
    older = release("rel-old", started=STARTED - timedelta(days=1), deployed=STARTED)
    back = DEPLOYED + timedelta(minutes=2)
    rolled = release(started=STARTED, deployed=DEPLOYED, failed=DEPLOYED, rolled_back=back)
    outcome = decide(alert(release_id=older.id), of=older, newest=rolled)
    assert outcome.stop is Stop.A_ROLLBACK
    assert outcome.why.plain() == "what runs is a rollback: the newer rel-new was rolled back"


def test_a_release_that_is_no_longer_the_newest_is_not_rolled_back() -> None:
    newer = release("rel-newer", started=DEPLOYED, deployed=DEPLOYED + timedelta(minutes=5))
    outcome = decide(newest=newer)
    assert outcome.stop is Stop.SUPERSEDED
    assert outcome.why.plain() == "it is no longer the newest: rel-newer"


def test_a_release_that_never_started_is_not_rolled_back() -> None:
    planned = release(planned=STARTED)
    assert decide(of=planned, newest=planned).stop is Stop.NOT_LIVE


def test_an_alert_that_started_before_the_deploy_is_ignored() -> None:
    outcome = decide(alert(starts_at=DEPLOYED - timedelta(seconds=1)))
    assert outcome.stop is Stop.OLDER_ALERT
    assert outcome.why.plain() == (
        "the alert started at 14:09:59 UTC, before the release did (14:10:00 UTC)"
    )


def test_for_a_canary_the_release_begins_when_it_started() -> None:
    during_canary = alert(starts_at=STARTED + timedelta(minutes=1))
    assert decide(during_canary, canary=True).rolls_back
    assert decide(during_canary, canary=False).stop is Stop.OLDER_ALERT
    before = alert(starts_at=STARTED - timedelta(seconds=1))
    assert decide(before, canary=True).stop is Stop.OLDER_ALERT


def test_a_release_not_deployed_yet_begins_when_it_started() -> None:
    rolling = release(started=STARTED)
    early = alert(starts_at=STARTED + timedelta(minutes=1))
    assert decide(early, of=rolling, newest=rolling).rolls_back


def test_a_release_is_rolled_back_automatically_at_most_once() -> None:
    held = HeldClaim(attempt=1, holder="herald:checkup:7", at=DEPLOYED + timedelta(minutes=15))
    outcome = decide(claimed=held)
    assert outcome.stop is Stop.DONE_ONCE
    assert outcome.why.plain() == (
        "Herald already rolled this release back automatically at 14:25:00 UTC"
    )


PROD = ServiceEnv(
    "webapp",
    "prod",
    DeployTarget(app="webapp-prod", rollout=RolloutRef("webapp", "webapp")),
)
ABORT = RollbackPlan("webapp", "prod", RollbackKind.ABORT, text("Abort"), release_id="rel-new")
ARGO = RollbackPlan(
    "webapp", "prod", RollbackKind.ARGO, text("Roll back"), release_id="rel-new", history_id=1
)


def test_after_an_abort_the_thread_says_how_to_resume() -> None:
    assert render(resume_text(ABORT, where=PROD)) == (
        "To resume: fix forward or revert the change in Git so a new revision rolls out (or"
        " retry this one with `kubectl argo rollouts retry rollout webapp -n webapp`), then"
        " take the canary on with `/deploy promote webapp prod`."
    )


def test_after_an_argo_rollback_that_turned_auto_sync_off_it_says_to_turn_it_on() -> None:
    assert render(resume_text(replace(ARGO, auto_sync=True), where=PROD)) == (
        "To resume: revert or fix the change in Git, turn automated sync back on for"
        " `webapp-prod` (Herald turned it off), then deploy the fixed release."
    )
    assert render(resume_text(ARGO, where=PROD)) == (
        "To resume: revert or fix the change in Git, then deploy the fixed release"
        " (sync `webapp-prod` in Argo CD)."
    )


def test_each_step_carries_its_time() -> None:
    assert timed(DEPLOYED, text("done")).plain() == "14:10:00 UTC · done"
