"""`/deploy pause` and `/deploy promote`: authorized, audited, applied once."""

from __future__ import annotations

from bot.domain.deploy.context import Operations, Reply, audit, authorize, require_target
from bot.domain.deploy.parse import PromoteGoal, PromoteKind
from bot.domain.deploy.tool import DeployTarget, DeployToolError, RolloutAction, RolloutStatus
from bot.domain.ports import AuditDecision, AuditOutcome, Claim
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
    ops: Operations, *, actor: str, where: ServiceEnv, goal: PromoteGoal, seen: str | None
) -> Reply:
    """Advance the canary once per step the user saw; a second click learns who did it."""
    if (refusal := await authorize(ops, actor=actor, action="promote", where=where)) is not None:
        return refusal
    target = require_target(where, rollout=True)
    if isinstance(target, Reply) or ops.deploy is None:
        return target if isinstance(target, Reply) else _not_configured()
    try:
        return await _promote(ops, actor=actor, where=where, target=target, goal=goal, seen=seen)
    except DeployToolError as exc:
        return await _done(ops, actor, "promote", where, ok=False, said=text(exc.message))


async def _promote(
    ops: Operations,
    *,
    actor: str,
    where: ServiceEnv,
    target: DeployTarget,
    goal: PromoteGoal,
    seen: str | None,
) -> Reply:
    assert ops.deploy is not None
    rollout = await ops.deploy.get_rollout(target)
    start = rollout
    if seen is not None and seen != rollout.generation:
        claim = await ops.audit.claim(key=_promote_key(target, seen), actor=actor, at=ops.clock())
        if not claim.won:
            return _already(claim, f"the rollout is now {describe(rollout)}")
        return Reply(
            False,
            text(
                f"The rollout moved since you looked; it is now {describe(rollout)}. "
                "Nothing was changed: promote again if you still want to."
            ),
        )
    if goal.kind is PromoteKind.FULL:
        if not (claim := await _claim(ops, actor, target, rollout)).won:
            return _already(claim, f"the rollout was at {describe(rollout)}")
        await ops.deploy.run_action(target, RolloutAction.PROMOTE_FULL, actor=actor)
        rollout = await ops.deploy.get_rollout(target)
        said = text(f"Promoted fully: {describe(rollout)}.")
        return await _done(ops, actor, "promote", where, ok=True, said=said)
    for _ in range(len(rollout.steps) + 1):
        if rollout.fully_promoted or rollout.aborted:
            break
        if (
            goal.kind is PromoteKind.WEIGHT
            and goal.weight is not None
            and rollout.set_weight >= goal.weight
        ):
            break
        if not (claim := await _claim(ops, actor, target, rollout)).won:
            return _already(claim, f"the rollout was at {describe(rollout)}")
        await ops.deploy.run_action(target, next_action(rollout), actor=actor)
        after = await ops.deploy.get_rollout(target)
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


async def _claim(
    ops: Operations, actor: str, target: DeployTarget, rollout: RolloutStatus
) -> Claim:
    """The promote from the step the user saw, once: a second click finds it claimed."""
    return await ops.audit.claim(
        key=_promote_key(target, rollout.generation), actor=actor, at=ops.clock()
    )


def _already(claim: Claim, rollout_now: str) -> Reply:
    """A second click: who promoted, when, and where the rollout stands."""
    return Reply(
        False,
        text("Already done by ", User(claim.holder), f" at {claim.at:%H:%M} UTC; {rollout_now}."),
    )


def _not_configured() -> Reply:
    return Reply(False, text("Argo CD is not configured."))


async def _done(
    ops: Operations, actor: str, action: str, where: ServiceEnv, *, ok: bool, said: Text
) -> Reply:
    await audit(
        ops,
        actor=actor,
        action=action,
        where=where,
        decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.DONE if ok else AuditOutcome.FAILED,
        detail=said,
    )
    return Reply(ok, said if ok else text(Emoji("warning"), " ", said))
