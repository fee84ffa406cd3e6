"""`/deploy promote` over a release whose early watch announced red or yellow: the user is
asked to confirm first, told the colour and the failing signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.deploy.context import Operations, audit
from bot.domain.deploy.parse import PromoteGoal
from bot.domain.ports import AuditDecision, AuditOutcome
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Emoji, Strong, Text, display_version, text
from bot.domain.watch.verdict import WatchColor

CAUTIONED = frozenset({WatchColor.RED, WatchColor.YELLOW})


@dataclass(frozen=True)
class WatchWarning:
    """The newest release of the service, whose early watch announced red or yellow."""

    release_id: str
    version: str
    color: WatchColor
    reason: str

    def audit_args(self, *, confirmed: bool) -> dict[str, Any]:
        return {
            "watch": {"release_id": self.release_id, "color": self.color.value},
            "watch_reason": self.reason,
            "confirmed": confirmed,
        }


@dataclass(frozen=True)
class PromoteCaution:
    """Nothing promoted: `warning` says why. Promoting anyway repeats `goal` from the step
    the user was shown (`seen`), once, as any promote is."""

    where: ServiceEnv
    goal: PromoteGoal
    seen: str | None
    warning: WatchWarning
    text: Text


async def watch_warning(ops: Operations, where: ServiceEnv) -> WatchWarning | None:
    """A warning when the service's newest release has an early watch that said red or
    yellow; None for green, inconclusive, unknown, or no watch."""
    release = await ops.releases.latest(service=where.service, env=where.env)
    if release is None:
        return None
    summary = await ops.releases.watch_summary(release.id)
    if summary is None or summary.color not in CAUTIONED:
        return None
    reason = summary.reason or "no reason was recorded"
    return WatchWarning(release.id, release.version, WatchColor(summary.color), reason)


async def caution(
    ops: Operations,
    *,
    actor: str,
    where: ServiceEnv,
    goal: PromoteGoal,
    seen: str | None,
    warning: WatchWarning,
) -> PromoteCaution:
    """The question to ask instead of promoting, audited (not noted in the thread: nothing
    happened yet)."""
    said = text(
        Emoji("warning"),
        " The early watch of ",
        Code(warning.release_id),
        f" ({display_version(warning.version)}) is ",
        Strong(warning.color.value),
        f": {warning.reason}. Nothing was promoted. Promote anyway?",
    )
    await audit(
        ops,
        actor=actor,
        action="promote",
        where=where,
        decision=AuditDecision.ALLOWED,
        outcome=AuditOutcome.CAUTIONED,
        detail=said,
        args=warning.audit_args(confirmed=False),
        note=False,
    )
    return PromoteCaution(where, goal, seen, warning, said)
