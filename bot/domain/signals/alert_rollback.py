"""A critical release-scoped alert rolls its release back, when the service's policy says so.

After the page (`escalation.page_for_alert`), `roll_back_on_alert` decides (`decide_alert_rollback`,
every guardrail in `rollback_policy.py`) and, when the alert may roll back, takes the
release's one automatic rollback, records `release.failed` (when still legal), and rolls back
as Herald itself through `plan_rollback` / `execute_rollback`, the path of `/deploy rollback`.
Each step is a timed note in the release's ops thread, the last one saying what a human does
to resume. Where the policy would roll back but a guardrail stops it, the thread says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot.domain.deploy.context import SYSTEM_ACTOR, Operations, Reply
from bot.domain.deploy.rollback import RollbackPlan, execute_rollback, plan_rollback
from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.model import Notice, Release
from bot.domain.release.recording import record_event
from bot.domain.services.directory import ServiceEnv
from bot.domain.signals.alerts import AlertDecision
from bot.domain.signals.rollback_policy import (
    AlertRollback,
    AutoRollbackPolicy,
    Stop,
    alert_cause,
    already_rolled_back,
    auto_rollback_key,
    decide_alert_rollback,
    not_paging,
    resume_text,
    take_auto_rollback,
    timed,
)
from bot.domain.text import Code, Emoji, Strong, Text, text, truncate
from bot.domain.transactions import run_in_transaction

__all__ = [
    "PolicyFor",
    "carry_out_rollback",
    "note_step",
    "resume_alert_rollbacks",
    "roll_back_on_alert",
]

log = logging.getLogger(__name__)
AUTO_ROLLBACK_PREFIX = auto_rollback_key("")
ALERT_HOLDER = alert_cause("")
PolicyFor = Callable[[str, str], AutoRollbackPolicy]  # (service, env) → its policy


async def roll_back_on_alert(
    ops: Operations, *, decision: AlertDecision, policy_for: PolicyFor
) -> AlertRollback | None:
    """Roll the alert's release back when every guardrail allows it; None for a release
    Herald does not have."""
    if (quiet := not_paging(decision)) is not None:
        return quiet  # most alerts: decided without reading anything
    async with ops.ledgers() as ledger:
        release = await ledger.get_release(decision.release_id)
    if release is None:
        return None
    where = _where(ops, release)
    outcome = decide_alert_rollback(
        decision,
        release=release,
        newest=await ops.releases.latest(service=release.service, env=release.env),
        policy=policy_for(release.service, release.env),
        canary=_canary(where),
        claimed=await ops.audit.last_claim(auto_rollback_key(release.id)),
    )
    if outcome.rolls_back and where is not None:
        cause = alert_cause(decision.fingerprint)
        held = await take_auto_rollback(
            ops.audit, release_id=release.id, cause=cause, at=ops.clock()
        )
        if held is None:
            await _roll_back(ops, decision=decision, where=where, why=outcome.why)
            return outcome
        outcome = AlertRollback(Stop.DONE_ONCE, already_rolled_back(held.at))  # lost a race
    if outcome.worth_saying:
        log.info(
            "critical alert did not roll back",
            extra={
                "release_id": release.id,
                "fingerprint": decision.fingerprint,
                "stop": outcome.stop,
            },
        )
        said = text("Not rolling back automatically on ", Strong(decision.name), ": ", outcome.why)
        await note_step(ops, release_id=release.id, said=text(said, "."))
    return outcome


async def note_step(ops: Operations, *, release_id: str, said: Text) -> None:
    """One timed step in the release's thread (its ops thread, once it failed)."""
    async with ops.ledgers() as ledger:
        release = await ledger.get_release(release_id)
        if release is not None:
            await ledger.enqueue([Notice.note(release, timed(ops.clock(), said))])


async def _roll_back(
    ops: Operations, *, decision: AlertDecision, where: ServiceEnv, why: Text
) -> None:
    log.warning(
        "rolling back on a critical alert",
        extra={"release_id": decision.release_id, "fingerprint": decision.fingerprint},
    )
    symptom = f"critical alert {decision.name}: {decision.summary}"
    reason = f"critical alert {decision.name}"
    await run_in_transaction(
        ops.ledgers,
        lambda ledger: _fail(
            ledger, ops, release_id=decision.release_id, symptom=symptom, reason=reason
        ),
    )
    on = text(Strong(decision.name), f" ({decision.severity})")
    started = text(
        Emoji("rewind"), " Rolling back automatically on ", on, ": ", why, "; on-call is paged."
    )
    await carry_out_rollback(ops, release_id=decision.release_id, where=where, started=started)
    await _finish(ops, decision.release_id, left="rolled back")


async def resume_alert_rollbacks(ops: Operations, *, older_than: timedelta) -> int:
    """Carry on the rollbacks alerts claimed but never finished (Herald stopped between the
    claim and the end of the rollback; the alert's redelivery is a duplicate and does
    nothing): once, unless the release was rolled back or superseded meanwhile."""
    held = await ops.audit.open_claims(
        key_prefix=AUTO_ROLLBACK_PREFIX, holder_prefix=ALERT_HOLDER, before=ops.clock() - older_than
    )
    for claim in held:
        await _resume(ops, claim.key.removeprefix(AUTO_ROLLBACK_PREFIX))
    return len(held)


async def _resume(ops: Operations, release_id: str) -> None:
    async with ops.ledgers() as ledger:
        release = await ledger.get_release(release_id)
    if release is None:
        return await _finish(ops, release_id, left="no such release")
    newest = await ops.releases.latest(service=release.service, env=release.env)
    where = _where(ops, release)
    if EventType.ROLLED_BACK in release.times or newest is None or newest.id != release.id:
        return await _finish(ops, release_id, left="not resumed: rolled back or superseded")
    if where is None:
        return await _finish(ops, release_id, left="not resumed: not in the catalogue")
    log.warning("resuming an alert's rollback cut short", extra={"release_id": release_id})
    symptom = "a critical alert rolled it back (resumed after a restart)"
    await run_in_transaction(
        ops.ledgers,
        lambda ledger: _fail(
            ledger, ops, release_id=release_id, symptom=symptom, reason="critical alert"
        ),
    )
    started = text(
        Emoji("rewind"), " Resuming the automatic rollback a restart interrupted (critical alert)."
    )
    await carry_out_rollback(ops, release_id=release_id, where=where, started=started, resume=True)
    await _finish(ops, release_id, left="rolled back (resumed)")


async def _finish(ops: Operations, release_id: str, *, left: str) -> None:
    key = auto_rollback_key(release_id)
    await ops.audit.finish_claim(key=key, attempt=1, left=left, at=ops.clock())


async def carry_out_rollback(
    ops: Operations, *, release_id: str, where: ServiceEnv, started: Text, resume: bool = False
) -> Reply:
    """Herald's own rollback, once its claim is taken: say it starts (`started`), plan it as
    `/deploy rollback` does, carry it out, and say how it ended and what a human does next.
    `resume` carries on one a restart interrupted (every step is repeat-safe)."""
    await note_step(ops, release_id=release_id, said=started)
    plan = await plan_rollback(ops, actor=SYSTEM_ACTOR, where=where, to=None)
    if isinstance(plan, Reply):
        await note_step(ops, release_id=release_id, said=_by_hand(where, plan.text))
        return plan
    reply = await execute_rollback(ops, actor=SYSTEM_ACTOR, plan=plan, resume=resume)
    await note_step(ops, release_id=release_id, said=_finished(plan, where, reply))
    return reply


async def _fail(
    ledger: Ledger, ops: Operations, *, release_id: str, symptom: str, reason: str
) -> None:
    """`release.failed` first, as a red checkup records it, when the release may still fail
    (an alert's rollback, or one resumed after a restart: then the alert is not stored)."""
    release = await ledger.get_release(release_id)
    if release is None or not is_legal(release.state, EventType.FAILED):
        return
    request = EventRequest(
        event=EventType.FAILED,
        symptom=truncate(symptom, 500),
        pagerduty="on-call paged",
        next="rolling back automatically",
        actor=SYSTEM_ACTOR,
        reason=truncate(reason, 500),
    )
    await record_event(ledger=ledger, release_id=release.id, request=request, now=ops.clock())


def _finished(plan: RollbackPlan, where: ServiceEnv, reply: Reply) -> Text:
    if not reply.ok:
        return _by_hand(where, reply.text)
    return text(
        Emoji("white_check_mark"), " Automatic rollback done. ", resume_text(plan, where=where)
    )


def _by_hand(where: ServiceEnv, why: Text) -> Text:
    command = Code(f"/deploy rollback {where.service} {where.env}")
    return text(
        Emoji("warning"), " Automatic rollback not done: ", why, " Roll back by hand: ", command
    )


def _canary(where: ServiceEnv | None) -> bool:
    return where is not None and where.target is not None and where.target.rollout is not None


def _where(ops: Operations, release: Release) -> ServiceEnv | None:
    entry = ops.directory.services.get(release.service)
    return entry.envs.get(release.env) if entry is not None else None
