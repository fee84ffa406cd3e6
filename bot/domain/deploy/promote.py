"""`/deploy pause` and `/deploy promote`: authorized, audited, applied once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.deploy.attempts import FAILED, attempt_at
from bot.domain.deploy.caution import PromoteCaution, caution, watch_warning
from bot.domain.deploy.context import Operations, Reply, audit, authorize, require_target
from bot.domain.deploy.freeze_guard import hold_for_freeze
from bot.domain.deploy.parse import PromoteGoal, PromoteKind
from bot.domain.deploy.tool import DeployTarget, DeployToolError, RolloutAction, RolloutStatus
from bot.domain.ports import AuditDecision, AuditOutcome, Claim, HeldClaim
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Text, User, text


async def pause(ops: Operations, *, actor: str, where: ServiceEnv) -> Reply:
    if (refusal := await authorize(ops, actor=actor, action="pause", where=where)) is not None:
        return refusal
    target = require_target(where, rollout=True)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    try:
        actions = await ops.deploy.list_actions(target)
        if "pause" not in actions:
            return await _done(
                ops,
                actor,
                "pause",
                where,
                ok=False,
                said=text(
                    "This Argo CD has no ",
                    Code("pause"),
                    " action for Rollouts (added in Argo CD 3.1). Pause with ",
                    Code(_kubectl_pause(target)),
                    ", or upgrade Argo CD.",
                ),
            )
        if not actions["pause"]:
            rollout = await ops.deploy.get_rollout(target)
            return await _done(
                ops,
                actor,
                "pause",
                where,
                ok=True,
                said=text(f"Nothing to do: the rollout is {describe(rollout)}."),
            )
        await ops.deploy.run_action(target, RolloutAction.PAUSE, actor=actor)
        rollout = await ops.deploy.get_rollout(target)
    except DeployToolError as exc:
        return await _done(ops, actor, "pause", where, ok=False, said=text(exc.message))
    said = text(f"Paused: {describe(rollout)}.")
    return await _done(ops, actor, "pause", where, ok=True, said=said)


async def promote(
    ops: Operations,
    *,
    actor: str,
    where: ServiceEnv,
    goal: PromoteGoal,
    seen: str | None,
    confirmed: bool = False,
    break_glass: str | None = None,
) -> Reply | PromoteCaution:
    """Advance the canary once per step the user saw; a second click learns who did it.
    Over an early watch that said red or yellow, only once `confirmed`: until then the
    answer is a caution naming the colour and the failing signal. During a freeze, only
    when an owner or admin breaks glass with a reason."""
    if (refusal := await authorize(ops, actor=actor, action="promote", where=where)) is not None:
        return refusal
    target = require_target(where, rollout=True)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    held = await hold_for_freeze(ops, actor=actor, where=where, break_glass=break_glass)
    if isinstance(held, Reply):
        return held
    warning = await watch_warning(ops, where)
    over = {**(warning.audit_args(confirmed=confirmed) if warning else {}), **(held or {})}
    try:
        rollout = await ops.deploy.get_rollout(target)
        if (stale := await _moved(ops, target, rollout, seen)) is not None:
            return stale
        if warning and not confirmed and not (rollout.fully_promoted or rollout.aborted):
            return await caution(
                ops, actor=actor, where=where, goal=goal, seen=rollout.generation, warning=warning
            )
        request = _Promote(actor, where, target, over)
        return await _promote(ops, request, rollout=rollout, goal=goal)
    except DeployToolError as exc:
        said = text(exc.message)
        return await _done(ops, actor, "promote", where, ok=False, said=said, args=over)


async def _moved(
    ops: Operations, target: DeployTarget, rollout: RolloutStatus, seen: str | None
) -> Reply | None:
    """None while the rollout is where the user saw it; otherwise who moved it, or that it
    moved."""
    if seen is None or seen == rollout.generation:
        return None
    held = await ops.audit.last_claim(_promote_key(target, seen))
    if held is not None:
        return _already(held, f"the rollout is now {describe(rollout)}")
    return Reply(
        False,
        text(
            f"The rollout moved since you looked; it is now {describe(rollout)}. "
            "Nothing was changed: promote again if you still want to."
        ),
    )


@dataclass(frozen=True)
class _Promote:
    """Who promotes what: `over` is the red or yellow watch it was confirmed over (audited)."""

    actor: str
    where: ServiceEnv
    target: DeployTarget
    over: dict[str, Any]


async def _promote(
    ops: Operations, request: _Promote, *, rollout: RolloutStatus, goal: PromoteGoal
) -> Reply:
    assert ops.deploy is not None
    actor, where, target, over = request.actor, request.where, request.target, request.over
    start = rollout
    if goal.kind is PromoteKind.FULL:
        if not (step := await _claim(ops, actor, target, rollout)).won:
            return _already(step.claim, f"the rollout was at {describe(rollout)}")
        rollout = await _act(ops, target, step, RolloutAction.PROMOTE_FULL, actor=actor)
        said = text(f"Promoted fully: {describe(rollout)}.")
        return await _done(ops, actor, "promote", where, ok=True, said=said, args=over)
    for _ in range(len(rollout.steps) + 1):
        if rollout.fully_promoted or rollout.aborted:
            break
        if (
            goal.kind is PromoteKind.WEIGHT
            and goal.weight is not None
            and rollout.set_weight >= goal.weight
        ):
            break
        if not (step := await _claim(ops, actor, target, rollout)).won:
            return _already(step.claim, f"the rollout was at {describe(rollout)}")
        after = await _act(ops, target, step, next_action(rollout), actor=actor)
        if after.generation == rollout.generation:
            return await _done(
                ops,
                actor,
                "promote",
                where,
                ok=False,
                said=text(
                    f"Stopped at {describe(after)}: the rollout did not advance. ",
                    after.message or "",
                ),
                args=over,
            )
        rollout = after
        if goal.kind is PromoteKind.NEXT:
            break
    verb = "Promoted" if rollout.generation != start.generation else "Nothing to promote"
    return await _done(
        ops,
        actor,
        "promote",
        where,
        ok=True,
        said=text(f"{verb}: {describe(start)} → {describe(rollout)}."),
        args=over,
    )


def next_action(rollout: RolloutStatus) -> RolloutAction:
    """Resume a canary paused at a pause step; otherwise skip the current step."""
    if rollout.paused or "CanaryPauseStep" in rollout.pause_reasons:
        return RolloutAction.RESUME
    return RolloutAction.SKIP_CURRENT_STEP


def describe(rollout: RolloutStatus) -> str:
    if rollout.aborted:
        return "aborted (traffic back on stable)"
    if rollout.fully_promoted:
        return "fully promoted (100%)"
    step = (rollout.step_index or 0) + 1
    actual = f", actual {rollout.actual_weight}%" if rollout.actual_weight is not None else ""
    state = ", paused" if rollout.paused else ""
    steps = len(rollout.steps)
    return f"step {min(step, steps)} of {steps}, weight {rollout.set_weight}%{actual}{state}"


def _kubectl_pause(target: DeployTarget) -> str:
    ref = target.rollout
    return f"kubectl argo rollouts pause {ref.name} -n {ref.namespace}" if ref else "kubectl"


def _promote_key(target: DeployTarget, generation: str | None) -> str:
    return f"promote:{target.app}:{generation}"


@dataclass(frozen=True)
class _Step:
    """The claim of one promote from one step, in one attempt of the rollout."""

    key: str
    attempt: int
    claim: Claim

    @property
    def won(self) -> bool:
        return self.claim.won


async def _claim(
    ops: Operations, actor: str, target: DeployTarget, rollout: RolloutStatus
) -> _Step:
    """The promote from the step the user saw, once per attempt: a second click finds it
    claimed; after a retry of the canary, the same step is promoted again."""
    assert ops.deploy is not None
    deploy, key = ops.deploy, _promote_key(target, rollout.generation)

    async def still_there() -> bool:
        return (await deploy.get_rollout(target)).generation == rollout.generation

    live = rollout.generation or ""
    attempt = await attempt_at(ops.audit, key=key, live=live, still=still_there)
    claim = await ops.audit.claim(key=key, actor=actor, at=ops.clock(), attempt=attempt)
    return _Step(key, attempt, claim)


async def _act(
    ops: Operations, target: DeployTarget, step: _Step, action: RolloutAction, *, actor: str
) -> RolloutStatus:
    """Run the claimed action; the claim records the state it left (or that it failed)."""
    assert ops.deploy is not None
    try:
        await ops.deploy.run_action(target, action, actor=actor)
        after = await ops.deploy.get_rollout(target)
    except DeployToolError:
        await _finish(ops, step, FAILED)
        raise
    await _finish(ops, step, after.generation or "")
    return after


async def _finish(ops: Operations, step: _Step, left: str) -> None:
    await ops.audit.finish_claim(key=step.key, attempt=step.attempt, left=left, at=ops.clock())


def _already(claim: Claim | HeldClaim, rollout_now: str) -> Reply:
    """A second click: who promoted, when, and where the rollout stands."""
    return Reply(
        False,
        text("Already done by ", User(claim.holder), f" at {claim.at:%H:%M} UTC; {rollout_now}."),
    )


def _not_configured() -> Reply:
    return Reply(False, text("Argo CD is not configured."))


async def _done(
    ops: Operations,
    actor: str,
    action: str,
    where: ServiceEnv,
    *,
    ok: bool,
    said: Text,
    args: dict[str, Any] | None = None,
) -> Reply:
    await audit(
        ops,
        actor=actor,
        action=action,
        where=where,
        decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.DONE if ok else AuditOutcome.FAILED,
        detail=said,
        args=args,
    )
    return Reply(ok, said if ok else text(Emoji("warning"), " ", said))
