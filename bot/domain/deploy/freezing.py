"""`/deploy freeze` and `/deploy unfreeze`: admins declare a freeze from Slack and end one
early; audited. The feed hears either within a minute (bot/reports/freezes.py)."""

from __future__ import annotations

from typing import Any

from bot.domain.deploy.context import Operations, Reply, audit
from bot.domain.deploy.freeze_order import ALL, MAX_FREEZE, FreezeOrder
from bot.domain.freeze.book import DeclaredFreeze
from bot.domain.ports import AuditDecision, AuditOutcome
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Text, text, utc_stamp


async def declare_freeze(ops: Operations, *, actor: str, order: FreezeOrder) -> Reply:
    where = _where(order)
    if (refusal := await _admins_only(ops, actor=actor, order=order, where=where)) is not None:
        return refusal
    now = ops.clock()
    end = order.until or now + (order.duration or MAX_FREEZE)
    if not now < end <= now + MAX_FREEZE:
        return Reply(False, text(Emoji("warning"), " A freeze ends in the future, within 90 days."))
    declared = DeclaredFreeze(order.service, order.env, order.reason, now, end, actor)
    name = await ops.freezes.declare(declared)
    said = text(
        Emoji("snowflake"), f" Froze {order.scope()} until {utc_stamp(end)} ({name}):"
        f" {order.reason}. Promote waits; pause and rollback never do. ",
        Code(f"/deploy unfreeze {order.service or ALL}" + (f" {order.env}" if order.env else "")),
        " ends it.",
    )  # fmt: skip
    await _audited(ops, actor, "freeze", where, said, args={"name": name, "until": end.isoformat()})
    return Reply(True, said)


async def lift_freeze(ops: Operations, *, actor: str, order: FreezeOrder) -> Reply:
    where = _where(order)
    if (refusal := await _admins_only(ops, actor=actor, order=order, where=where)) is not None:
        return refusal
    lifted = await ops.freezes.lift(service=order.service, env=order.env, by=actor, at=ops.clock())
    if not lifted:
        return Reply(
            False,
            text(
                f"No freeze declared in Slack holds exactly {order.scope()}. The catalogue's"
                " windows end on their own; change them in HERALD_CONFIG."
            ),
        )
    said = text(
        Emoji("sunny"),
        f" Unfroze {order.scope()}" + (f" ({lifted} freezes)." if lifted > 1 else "."),
    )
    await _audited(ops, actor, "unfreeze", where, said, args={"lifted": lifted})
    return Reply(True, said)


def _where(order: FreezeOrder) -> ServiceEnv:
    """What the audit log names: `all` for every service or env."""
    return ServiceEnv(order.service or ALL, order.env or ALL, None)


async def _admins_only(
    ops: Operations, *, actor: str, order: FreezeOrder, where: ServiceEnv
) -> Reply | None:
    admins = set(ops.directory.admins)
    if order.service is not None:
        admins |= set(ops.directory.service(order.service).admins)
    if actor in admins:
        return None
    whose = f"admins of {order.service}" if order.service else "Herald's admins"
    said = text(Emoji("no_entry"), f" Only {whose} may freeze and unfreeze.")
    action = "unfreeze" if order.lift else "freeze"
    await audit(
        ops, actor=actor, action=action, where=where, decision=AuditDecision.DENIED,
        outcome=AuditOutcome.REFUSED, detail=said, note=False,
    )  # fmt: skip
    return Reply(False, said)


async def _audited(
    ops: Operations, actor: str, action: str, where: ServiceEnv, said: Text, *, args: dict[str, Any]
) -> None:
    await audit(
        ops, actor=actor, action=action, where=where, decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.DONE, detail=said, args=args, note=False,
    )  # fmt: skip
