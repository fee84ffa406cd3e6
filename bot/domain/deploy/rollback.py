"""`/deploy rollback`: plan (shown for confirmation), then carry out once, GitOps-aware."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

from bot.domain.deploy.context import Operations, Reply, audit, authorize, require_target
from bot.domain.deploy.promote import describe
from bot.domain.deploy.tool import (
    AppStatus,
    DeployTarget,
    DeployToolError,
    HistoryEntry,
    RolloutAction,
)
from bot.domain.ports import AuditDecision, AuditOutcome, Claim, Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.model import Release
from bot.domain.release.recording import record_event
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Text, User, join, text
from bot.domain.transactions import ChangedConcurrently, run_in_transaction


class RollbackKind(StrEnum):
    ABORT = "abort"  # a canary in flight: send traffic back to stable
    ARGO = "argo"  # an Argo CD rollback to a history entry


@dataclass(frozen=True)
class RollbackPlan:
    service: str
    env: str
    kind: RollbackKind
    summary: Text  # what the user confirms
    release_id: str | None = None
    history_id: int | None = None
    revision: str | None = None
    to_version: str | None = None
    auto_sync: bool = False

    def encode(self, *, summary: Callable[[Text], str] = Text.plain) -> str:
        """The plan as JSON; its summary a string, as `summary` writes it (plain text)."""
        return json.dumps({**asdict(self), "summary": summary(self.summary)}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> RollbackPlan:
        """The plan `encode` wrote; its summary comes back as that string."""
        data = json.loads(raw)
        return cls(**{**data, "kind": RollbackKind(data["kind"]), "summary": text(data["summary"])})


async def plan_rollback(
    ops: Operations, *, actor: str, where: ServiceEnv, to: str | None
) -> RollbackPlan | Reply:
    """Work out what a rollback would do, without doing it."""
    if (refusal := await authorize(ops, actor=actor, action="rollback", where=where)) is not None:
        return refusal
    target = require_target(where, rollout=False)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    current = await ops.releases.latest(service=where.service, env=where.env)
    try:
        if target.rollout is not None and to is None:
            rollout = await ops.deploy.get_rollout(target)
            if rollout.in_flight:
                return RollbackPlan(
                    where.service,
                    where.env,
                    RollbackKind.ABORT,
                    text(
                        "Abort the canary of ",
                        Code(where.service),
                        f" {where.env} ({describe(rollout)}): "
                        "traffic goes back to the stable version.",
                    ),
                    release_id=current.id if current else None,
                )
        app = await ops.deploy.get_app(target)
    except DeployToolError as exc:
        return Reply(False, text(Emoji("warning"), " ", exc.message))
    return await _plan_argo(ops, where=where, app=app, current=current, to=to)


async def _plan_argo(
    ops: Operations, *, where: ServiceEnv, app: AppStatus, current: Release | None, to: str | None
) -> RollbackPlan | Reply:
    version, commit = await _target_commit(ops, where=where, current=current, to=to)
    entry = _history_entry(app, commit)
    if entry is None:
        return _no_history_entry(app, version=version, commit=commit)
    label = version or entry.revision[:7]
    sync_note = (
        " Automated sync is on: Herald will turn it off first so the rollback sticks."
        if app.auto_sync
        else ""
    )
    summary = text(
        "Roll ",
        Code(where.service),
        f" {where.env} back to {label} (Argo CD ",
        Code(app.name),
        f" history #{entry.id}, revision {entry.revision[:7]}).{sync_note}",
    )
    return RollbackPlan(
        where.service,
        where.env,
        RollbackKind.ARGO,
        summary,
        release_id=current.id if current else None,
        history_id=entry.id,
        revision=entry.revision,
        to_version=version,
        auto_sync=app.auto_sync,
    )


def _no_history_entry(app: AppStatus, *, version: str | None, commit: str | None) -> Reply:
    known = ", ".join(f"#{h.id} {h.revision[:7]}" for h in app.history[-5:]) or "none"
    wanted = f"{version} ({commit})" if version and commit else (commit or "the previous release")
    return Reply(
        False,
        text(
            "No Argo CD history entry of ",
            Code(app.name),
            f" matches {wanted}. Recent history: {known}. Nothing was changed.",
        ),
    )


async def _target_commit(
    ops: Operations, *, where: ServiceEnv, current: Release | None, to: str | None
) -> tuple[str | None, str | None]:
    """(version, commit) of the rollback target: named, or the last good release."""
    if to is not None and not all(c in "0123456789abcdef" for c in to):
        release = await ops.releases.by_version(service=where.service, env=where.env, version=to)
        return to, release.manifest.git.commit if release else None
    if to is not None:
        release = await ops.releases.by_commit(service=where.service, env=where.env, sha_prefix=to)
        return (release.version if release else None), to
    previous = await ops.releases.last_good_before(current) if current else None
    if previous is not None:
        return previous.version, previous.manifest.git.commit
    return None, None


def _history_entry(app: AppStatus, commit: str | None) -> HistoryEntry | None:
    if commit is None:  # no release on record: the entry before the one running now
        older = [h for h in app.history if h.revision != app.revision]
        return older[-1] if older else None
    matches = [h for h in app.history if h.revision.startswith(commit)]
    return matches[-1] if matches else None


async def execute_rollback(
    ops: Operations, *, actor: str, plan: RollbackPlan, resume: bool = False
) -> Reply:
    """Carry out a confirmed plan once, whoever clicks and however often. `resume` carries
    on a plan this actor claimed before a crash: every step of it is repeat-safe."""
    where = ops.directory.resolve(plan.service, plan.env)
    if (refusal := await authorize(ops, actor=actor, action="rollback", where=where)) is not None:
        return refusal
    key = f"rollback:{plan.service}:{plan.env}:{plan.release_id}:{plan.kind}:{plan.history_id}"
    claim = await ops.audit.claim(key=key, actor=actor, at=ops.clock())
    if not claim.won and not (resume and claim.holder == actor):
        return _already_started(claim)
    target = require_target(where, rollout=plan.kind is RollbackKind.ABORT)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    try:
        notes = await _apply(ops, target=target, plan=plan, actor=actor)
    except DeployToolError as exc:
        await audit(
            ops,
            actor=actor,
            action="rollback",
            where=where,
            decision=AuditDecision.ALLOWED,
            outcome=AuditOutcome.FAILED,
            detail=text(exc.message),
            args={"plan": plan.encode()},
        )
        return Reply(False, text(Emoji("warning"), " ", exc.message))
    await _record_rolled_back(ops, plan=plan, actor=actor)
    done = join(" ", notes)
    await audit(
        ops,
        actor=actor,
        action="rollback",
        where=where,
        decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.DONE,
        detail=done,
        args={"plan": plan.encode()},
    )
    return Reply(True, done)


def _not_configured() -> Reply:
    return Reply(False, text("Argo CD is not configured."))


def _already_started(claim: Claim) -> Reply:
    return Reply(
        False,
        text(
            "This rollback was already started by ",
            User(claim.holder),
            f" at {claim.at:%H:%M} UTC; nothing more was done.",
        ),
    )


async def _apply(
    ops: Operations, *, target: DeployTarget, plan: RollbackPlan, actor: str
) -> list[Text]:
    assert ops.deploy is not None
    if plan.kind is RollbackKind.ABORT:
        await ops.deploy.run_action(target, RolloutAction.ABORT, actor=actor)
        return [
            text(
                "Aborted the canary of ",
                Code(plan.service),
                f" {plan.env}; traffic is back on stable.",
            )
        ]
    notes = []
    if plan.auto_sync:
        await ops.deploy.set_auto_sync(target, enabled=False, actor=actor)
        notes.append(
            text(
                "Turned automated sync OFF for ",
                Code(target.app),
                " so Argo CD does not re-apply the bad revision. "
                "Revert or fix the change in Git before turning it back on.",
            )
        )
    assert plan.history_id is not None
    await ops.deploy.rollback(target, history_id=plan.history_id, requested_by=actor)
    label = plan.to_version or (plan.revision or "")[:7]
    notes.insert(
        0,
        text(
            "Rolled ",
            Code(plan.service),
            f" {plan.env} back to {label} (history #{plan.history_id}).",
        ),
    )
    return notes


async def _record_rolled_back(ops: Operations, *, plan: RollbackPlan, actor: str) -> None:
    """A rollback means the release failed: record failed (when still legal), then rolled_back."""
    if plan.release_id is None:
        return
    symptom = "rolled back from Slack with /deploy rollback"
    await _record_if_legal(
        ops, plan.release_id, EventRequest(event=EventType.FAILED, symptom=symptom, actor=actor)
    )
    await _record_if_legal(
        ops,
        plan.release_id,
        EventRequest(
            event=EventType.ROLLED_BACK,
            to_version=plan.to_version,
            actor=actor,
            reason="/deploy rollback",
        ),
    )


async def _record_if_legal(ops: Operations, release_id: str, request: EventRequest) -> None:
    async def record(ledger: Ledger) -> None:
        release = await ledger.get_release(release_id)
        if release is None or not is_legal(release.state, request.event):
            return
        await record_event(ledger=ledger, release_id=release_id, request=request, now=ops.clock())

    try:
        await run_in_transaction(ops.ledgers, record)
    except ChangedConcurrently:  # the rollback itself is done; its record is best effort
        return
