"""`/deploy rollback`: plan (shown for confirmation), then carry out once, GitOps-aware."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.dependencies.graph import broken_by_rollback
from bot.domain.deploy.attempts import ABORTED, FAILED, attempt_at
from bot.domain.deploy.context import Operations, Reply, audit, authorize, require_target
from bot.domain.deploy.promote import describe
from bot.domain.deploy.rollback_events import record_rolled_back
from bot.domain.deploy.rollback_plan import RollbackKind, RollbackPlan, history_words, rollback_key
from bot.domain.deploy.targets import choose_target
from bot.domain.deploy.tool import (
    AppStatus,
    DeployTarget,
    DeployToolError,
    HistoryEntry,
    RolloutAction,
    RolloutStatus,
)
from bot.domain.ports import AuditDecision, AuditOutcome, Claim
from bot.domain.release.model import Release
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Text, User, join, text

__all__ = ["RollbackKind", "RollbackPlan", "execute_rollback", "plan_rollback"]


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
                plan: RollbackPlan | Reply = await _plan_abort(
                    ops, where=where, target=target, rollout=rollout, current=current
                )
                return await _warn_dependents(ops, plan)
        app = await ops.deploy.get_app(target)
        plan = await _plan_argo(ops, where=where, target=target, app=app, current=current, to=to)
        return await _warn_dependents(ops, plan)
    except DeployToolError as exc:
        return Reply(False, text(Emoji("warning"), " ", exc.message))


async def _warn_dependents(ops: Operations, plan: RollbackPlan | Reply) -> RollbackPlan | Reply:
    """Say in the confirmation which dependent services' requirements the rollback breaks."""
    if isinstance(plan, Reply) or plan.to_version is None:
        return plan
    broken = await broken_by_rollback(
        ops.releases, service=plan.service, env=plan.env, to_version=plan.to_version
    )
    if not broken:
        return plan
    warning = text(
        " ", Emoji("warning"), " This breaks what depends on it: ", "; ".join(broken), "."
    )
    return replace(plan, summary=plan.summary + warning)


async def _plan_abort(
    ops: Operations,
    *,
    where: ServiceEnv,
    target: DeployTarget,
    rollout: RolloutStatus,
    current: Release | None,
) -> RollbackPlan:
    assert ops.deploy is not None
    deploy, release_id = ops.deploy, current.id if current else None

    async def still_in_flight() -> bool:
        return (await deploy.get_rollout(target)).in_flight

    key = rollback_key(
        where.service, where.env, release_id, kind=RollbackKind.ABORT, history_id=None
    )
    live = rollout.generation or ""
    attempt = await attempt_at(ops.audit, key=key, live=live, still=still_in_flight)
    auto_sync = (await deploy.get_app(target)).auto_sync
    sync_note = (
        " Automated sync is on: the Rollout stays aborted on the bad revision until Git changes."
        if auto_sync
        else ""
    )
    return RollbackPlan(
        where.service,
        where.env,
        RollbackKind.ABORT,
        text(
            "Abort the canary of ",
            Code(where.service),
            f" {where.env} ({describe(rollout)}): traffic goes back to the stable version.",
            sync_note,
        ),
        release_id=release_id,
        auto_sync=auto_sync,
        attempt=attempt,
    )


async def _plan_argo(
    ops: Operations,
    *,
    where: ServiceEnv,
    target: DeployTarget,
    app: AppStatus,
    current: Release | None,
    to: str | None,
) -> RollbackPlan | Reply:
    chosen = await choose_target(ops, where=where, app=app, current=current, to=to)
    if isinstance(chosen, Reply):
        return chosen
    entry = chosen.entry
    sync_note = (
        " Automated sync is on: Herald will turn it off first so the rollback sticks."
        if app.auto_sync
        else ""
    )
    summary = text(
        "Roll ",
        Code(where.service),
        f" {where.env} back to ",
        history_words(app.name, entry=entry, version=chosen.version),
        f".{sync_note}",
    )
    plan = RollbackPlan(
        where.service,
        where.env,
        RollbackKind.ARGO,
        summary,
        release_id=current.id if current else None,
        history_id=entry.id,
        revision=entry.revision,
        to_version=chosen.version,
        auto_sync=app.auto_sync,
    )
    return replace(plan, attempt=await _argo_attempt(ops, plan=plan, target=target, app=app))


async def _argo_attempt(
    ops: Operations, *, plan: RollbackPlan, target: DeployTarget, app: AppStatus
) -> int:
    """A later attempt once the app runs another revision than the last rollback left, with
    no operation (a rollback) under way."""
    assert ops.deploy is not None
    deploy = ops.deploy

    async def settled() -> bool:
        now = await deploy.get_app(target)
        return now.revision == app.revision and not now.operation_running

    return await attempt_at(ops.audit, key=plan.key, live=app.revision or "", still=settled)


async def execute_rollback(
    ops: Operations, *, actor: str, plan: RollbackPlan, resume: bool = False
) -> Reply:
    """Carry out a confirmed plan once, whoever clicks and however often. `resume` carries
    on a plan this actor claimed before a crash: every step of it is repeat-safe."""
    where = ops.directory.resolve(plan.service, plan.env)
    if (refusal := await authorize(ops, actor=actor, action="rollback", where=where)) is not None:
        return refusal
    claim = await ops.audit.claim(key=plan.key, actor=actor, at=ops.clock(), attempt=plan.attempt)
    if not claim.won and not (resume and claim.holder == actor):
        return await _already_started(ops, plan=plan, claim=claim, where=where)
    target = require_target(where, rollout=plan.kind is RollbackKind.ABORT)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    try:
        notes = await _apply(ops, target=target, plan=plan, actor=actor)
    except DeployToolError as exc:
        await _finish(ops, plan, FAILED)
        return await _answer(ops, plan, actor, where, ok=False, said=text(exc.message))
    await _finish(ops, plan, ABORTED if plan.kind is RollbackKind.ABORT else plan.revision or "")
    await record_rolled_back(
        ops, release_id=plan.release_id, to_version=plan.to_version, actor=actor
    )
    return await _answer(ops, plan, actor, where, ok=True, said=join(" ", notes))


async def _finish(ops: Operations, plan: RollbackPlan, left: str) -> None:
    await ops.audit.finish_claim(key=plan.key, attempt=plan.attempt, left=left, at=ops.clock())


async def _answer(
    ops: Operations, plan: RollbackPlan, actor: str, where: ServiceEnv, *, ok: bool, said: Text
) -> Reply:
    """Audit the outcome (and note it in the release's thread), then say it."""
    await audit(
        ops,
        actor=actor,
        action="rollback",
        where=where,
        decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.DONE if ok else AuditOutcome.FAILED,
        detail=said,
        args={"plan": plan.encode()},
    )
    return Reply(True, said) if ok else Reply(False, text(Emoji("warning"), " ", said))


def _not_configured() -> Reply:
    return Reply(False, text("Argo CD is not configured."))


async def _already_started(
    ops: Operations, *, plan: RollbackPlan, claim: Claim, where: ServiceEnv
) -> Reply:
    said = text(
        "This rollback was already started by ",
        User(claim.holder),
        f" at {claim.at:%H:%M} UTC; nothing more was done.",
    )
    if (why := await _why_ask_again(ops, plan=plan, where=where)) is not None:
        command = Code(f"/deploy rollback {plan.service} {plan.env}")
        said = text(said, f" {why}: run ", command, " again.")
    return Reply(False, said)


async def _why_ask_again(ops: Operations, *, plan: RollbackPlan, where: ServiceEnv) -> str | None:
    """Why a fresh plan would act where this spent one does not, if it would."""
    held = await ops.audit.last_claim(plan.key)
    if held is None or held.left is None:
        return None  # the rollback of this attempt (or of a later one) is still under way
    if held.left == FAILED:
        return "It failed"
    if plan.kind is not RollbackKind.ABORT or ops.deploy is None or where.target is None:
        return None
    try:
        in_flight = (await ops.deploy.get_rollout(where.target)).in_flight
    except DeployToolError:
        return None
    return "The canary has been retried since" if in_flight else None


def _stays_aborted(target: DeployTarget) -> Text:
    """What happens next after an abort while Argo CD keeps syncing the bad revision from Git."""
    return text(
        "Automated sync is on for ",
        Code(target.app),
        ", so Argo CD keeps the bad revision in the Rollout: it stays aborted until the change "
        "is reverted or fixed in Git (a retry before that starts the same canary again).",
    )


async def _apply(
    ops: Operations, *, target: DeployTarget, plan: RollbackPlan, actor: str
) -> list[Text]:
    assert ops.deploy is not None
    if plan.kind is RollbackKind.ABORT:
        await ops.deploy.run_action(target, RolloutAction.ABORT, actor=actor)
        aborted = text(
            "Aborted the canary of ", Code(plan.service), f" {plan.env}; traffic is back on stable."
        )
        return [aborted, _stays_aborted(target)] if plan.auto_sync else [aborted]
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
    entry = HistoryEntry(plan.history_id, plan.revision or "")
    notes.insert(
        0,
        text(
            "Rolled ",
            Code(plan.service),
            f" {plan.env} back to ",
            history_words(target.app, entry=entry, version=plan.to_version),
            ".",
        ),
    )
    return notes
