"""When Herald rolls a release back on its own: the service's policy, the guardrails an alert
must pass, the one automatic rollback a release may have, and what a human does afterwards.

The catalogue's `auto_rollback` says when (`on_red`: a red checkup, `on_alert`: a critical
release-scoped alert). An alert rolls its release back only when all of these hold, checked
in this order (the first that fails is the reason given):

1. it is firing at a paging severity (the rule that pages, `decide` in `alerts.py`);
2. the service's policy has `on_alert`;
3. the release is not a rollback: it has not been rolled back itself (rolling it back again
   would go further back), and no newer release of its service and env has been rolled back
   (then what runs is what that rollback went back to);
4. it is the newest release of its service and env;
5. the alert started at or after the release: its start for a canary (or a release not yet
   deployed), its deploy otherwise;
6. no automatic rollback of the release was claimed before, by an alert or a checkup.

The claim (`auto_rollback_key`) is the same for both paths, so together they roll a release
back at most once; its holder names the cause, so the cause that took it before a restart may
carry on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.domain.deploy.rollback_plan import RollbackKind, RollbackPlan
from bot.domain.ports import AuditLog, Claim, HeldClaim
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.domain.services.directory import ServiceEnv
from bot.domain.signals.alerts import AlertDecision, AlertStatus
from bot.domain.text import Code, Text, text

__all__ = [
    "AlertRollback",
    "AutoRollbackPolicy",
    "Stop",
    "alert_cause",
    "already_rolled_back",
    "auto_rollback_key",
    "checkup_cause",
    "decide_alert_rollback",
    "not_paging",
    "resume_text",
    "take_auto_rollback",
    "timed",
]

_MAX_HOLDER = 64  # the claim's holder column


@dataclass(frozen=True)
class AutoRollbackPolicy:
    """The catalogue's `auto_rollback` for one service."""

    on_red: bool = False
    on_alert: bool = False


class Stop(StrEnum):
    """Why an alert does not roll its release back."""

    NOT_PAGING = "not_paging"
    POLICY_OFF = "policy_off"
    ROLLED_BACK = "rolled_back"
    A_ROLLBACK = "a_rollback"
    SUPERSEDED = "superseded"
    NOT_LIVE = "not_live"
    OLDER_ALERT = "older_alert"
    DONE_ONCE = "done_once"


@dataclass(frozen=True)
class AlertRollback:
    """What an alert does to its release: roll it back (`stop` is None), or why not."""

    stop: Stop | None
    why: Text

    @property
    def rolls_back(self) -> bool:
        return self.stop is None

    @property
    def worth_saying(self) -> bool:
        """Whether the thread hears why not: only where the policy would have rolled back."""
        return self.stop not in (None, Stop.NOT_PAGING, Stop.POLICY_OFF)


def decide_alert_rollback(
    alert: AlertDecision,
    *,
    release: Release,
    newest: Release | None,
    policy: AutoRollbackPolicy,
    canary: bool,
    claimed: HeldClaim | None,
) -> AlertRollback:
    """Whether `alert` rolls `release` back (the module's guardrails, in order). `newest` is
    the newest release of its service and env, `canary` whether it rolls out as a canary,
    `claimed` the automatic rollback of `release` claimed before, if any."""
    if (quiet := not_paging(alert)) is not None:
        return quiet
    if not policy.on_alert:
        return AlertRollback(Stop.POLICY_OFF, text("the service's auto_rollback has no on_alert"))
    if (rolled := release.times.get(EventType.ROLLED_BACK)) is not None:
        return AlertRollback(Stop.ROLLED_BACK, text(f"it was rolled back at {_clock(rolled)}"))
    if newest is not None and newest.id != release.id:
        if EventType.ROLLED_BACK in newest.times:
            said = text("what runs is a rollback: the newer ", Code(newest.id), " was rolled back")
            return AlertRollback(Stop.A_ROLLBACK, said)
        return AlertRollback(Stop.SUPERSEDED, text("it is no longer the newest: ", Code(newest.id)))
    began = _began(release, canary=canary)
    if began is None:
        return AlertRollback(Stop.NOT_LIVE, text("it has not started rolling out"))
    if alert.starts_at < began:
        since, release_began = _clock(alert.starts_at), _clock(began)
        said = text(f"the alert started at {since}, before the release did ({release_began})")
        return AlertRollback(Stop.OLDER_ALERT, said)
    if claimed is not None:
        return AlertRollback(Stop.DONE_ONCE, already_rolled_back(claimed.at))
    said = text(
        f"it fired at {_clock(alert.starts_at)}, after the release, and the service's ",
        Code("auto_rollback"),
        " has ",
        Code("on_alert"),
    )
    return AlertRollback(None, said)


def not_paging(alert: AlertDecision) -> AlertRollback | None:
    """The first guardrail, which needs nothing but the alert: one that does not page never
    rolls back."""
    if alert.status is not AlertStatus.FIRING or not alert.should_page:
        return AlertRollback(Stop.NOT_PAGING, text("the alert is not firing at a paging severity"))
    return None


def already_rolled_back(at: datetime) -> Text:
    return text(f"Herald already rolled this release back automatically at {_clock(at)}")


def auto_rollback_key(release_id: str) -> str:
    """The claim of a release's one automatic rollback, whatever calls for it."""
    return f"auto-rollback:{release_id}"


def alert_cause(fingerprint: str) -> str:
    return f"herald:alert:{fingerprint}"[:_MAX_HOLDER]


def checkup_cause(checkup_id: int) -> str:
    return f"herald:checkup:{checkup_id}"


async def take_auto_rollback(
    audit: AuditLog, *, release_id: str, cause: str, at: datetime
) -> Claim | None:
    """None when `cause` may roll `release_id` back (it claimed it now, or did before a
    restart); else the claim of the cause that did."""
    claim = await audit.claim(key=auto_rollback_key(release_id), actor=cause, at=at)
    return None if claim.won or claim.holder == cause else claim


def resume_text(plan: RollbackPlan, *, where: ServiceEnv) -> Text:
    """One sentence: what a human does to get the service moving again after Herald's own
    rollback (the release itself is never rolled back automatically again)."""
    target = where.target
    command = Code(f"/deploy promote {plan.service} {plan.env}")
    if plan.kind is RollbackKind.ABORT and target is not None and target.rollout is not None:
        rollout = target.rollout
        retry = Code(f"kubectl argo rollouts retry rollout {rollout.name} -n {rollout.namespace}")
        return text(
            "To resume: fix forward or revert the change in Git so a new revision rolls out"
            " (or retry this one with ",
            retry,
            "), then take the canary on with ",
            command,
            ".",
        )
    app = Code(target.app if target else plan.service)
    if plan.auto_sync:
        return text(
            "To resume: revert or fix the change in Git, turn automated sync back on for ",
            app,
            " (Herald turned it off), then deploy the fixed release.",
        )
    return text(
        "To resume: revert or fix the change in Git, then deploy the fixed release (sync ",
        app,
        " in Argo CD).",
    )


def timed(at: datetime, said: Text) -> Text:
    """A step of the incident's timeline: `14:03:05 UTC · what happened`."""
    return text(f"{_clock(at)} · ", said)


def _began(release: Release, *, canary: bool) -> datetime | None:
    started = release.times.get(EventType.STARTED)
    deployed = release.times.get(EventType.DEPLOYED)
    if canary or deployed is None:
        return started or deployed
    return deployed


def _clock(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S UTC")
