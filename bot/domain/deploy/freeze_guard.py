"""A freeze holds `/deploy promote` (never pause or rollback): refused, unless an owner or an
admin breaks glass with a reason, which is audited and announced in the ops channel."""

from __future__ import annotations

from typing import Any

from bot.domain.deploy.context import Operations, Reply, audit
from bot.domain.freeze.window import Occurrence
from bot.domain.ports import AuditDecision, AuditOutcome
from bot.domain.release.model import Audience, Notice, NoticeKind
from bot.domain.services.access import check_access
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Text, User, text, utc_stamp

BREAK_GLASS = "break_glass"


async def hold_for_freeze(
    ops: Operations, *, actor: str, where: ServiceEnv, break_glass: str | None
) -> Reply | dict[str, Any] | None:
    """None when no freeze holds `where`; the refusal (audited) while one does; or, when the
    glass is broken, the audit arguments the promote carries."""
    now = ops.clock()
    holding = (await ops.freezes.calendar(now=now)).holding(where.service, where.env, at=now)
    if not holding:
        return None
    freeze = holding[0]
    if break_glass is None:
        said = text(
            Emoji("snowflake"), " ", _frozen(where, freeze), " Promote waits; ", _how(where)
        )
        await _audit(ops, actor, where, freeze, said=said, decision=AuditDecision.DENIED)
        return Reply(False, said)
    entry = ops.directory.service(where.service)
    access = await check_access(
        user=actor, entry=entry, admins=ops.directory.admins, groups=ops.groups
    )
    if not access.allowed:  # the on-call alone may not break glass
        said = text(
            Emoji("no_entry"), " ", _frozen(where, freeze), " Breaking glass: ", access.reason
        )
        await _audit(ops, actor, where, freeze, said=said, decision=AuditDecision.DENIED)
        return Reply(False, said)
    said = text(
        Emoji("rotating_light"), " ", User(actor), " broke glass to promote ",
        Code(f"{where.service} {where.env}"), f" during {freeze.name}: {break_glass}",
    )  # fmt: skip
    await _audit(ops, actor, where, freeze, said=said, decision=AuditDecision.ALLOWED)
    release = await ops.releases.latest(service=where.service, env=where.env)
    if release is not None:
        async with ops.ledgers() as ledger:
            await ledger.enqueue([Notice(NoticeKind.NOTE, Audience.OPS, release, None, text=said)])
    return {BREAK_GLASS: break_glass, "freeze": freeze.name}


def _frozen(where: ServiceEnv, freeze: Occurrence) -> Text:
    until = utc_stamp(freeze.end)
    return text(
        Code(f"{where.service} {where.env}"),
        f" is frozen until {until} ({freeze.name}: {freeze.reason}).",
    )


def _how(where: ServiceEnv) -> Text:
    command = f"/deploy promote {where.service} {where.env} break-glass REASON"
    return text(
        "an owner or admin can break glass with ",
        Code(command),
        ". Pause and rollback are never held.",
    )


async def _audit(
    ops: Operations,
    actor: str,
    where: ServiceEnv,
    freeze: Occurrence,
    *,
    said: Text,
    decision: AuditDecision,
) -> None:
    outcome = AuditOutcome.DONE if decision is AuditDecision.ALLOWED else AuditOutcome.REFUSED
    await audit(
        ops,
        actor=actor,
        action=BREAK_GLASS if decision is AuditDecision.ALLOWED else "promote",
        where=where,
        decision=decision,
        outcome=outcome,
        detail=said,
        args={"freeze": freeze.name},
        note=False,
    )
