"""What every `/deploy` use case shares: the ports (`Operations`), the reply, who may act
(`authorize`), the audit trail (`audit`) and the Argo CD target a command needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.domain.approval.checklist import BurnGauge
from bot.domain.calendar.entries import Entry, Window
from bot.domain.deploy.tool import DeployTarget, DeployTool
from bot.domain.dora.report import DoraReport
from bot.domain.dora.window import DoraWindow
from bot.domain.freeze.book import FixedFreezes, FreezeBook
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.home.dms import DmBook
from bot.domain.ports import (
    AuditDecision,
    AuditEntry,
    AuditLog,
    AuditOutcome,
    LedgerFactory,
    ReleaseReader,
)
from bot.domain.release.model import Notice, Release
from bot.domain.services.access import GroupDirectory, check_access
from bot.domain.services.directory import Directory, ServiceEnv
from bot.domain.services.oncall import OnCallDirectory
from bot.domain.text import EMPTY, Code, Emoji, Text, User, text

SYSTEM_ACTOR = "herald"  # Herald acting on its own (auto-rollback after a red verdict)


class DoraSource(Protocol):
    """Where `/deploy metrics` reads DORA figures from (the store's aggregates)."""

    async def __call__(
        self, *, window: DoraWindow, service: str | None, env: str | None
    ) -> DoraReport: ...


class CalendarSource(Protocol):
    """Where `/deploy calendar` reads planned and past releases from (the store)."""

    async def __call__(
        self, *, window: Window, freezes: FreezeCalendar, service: str | None
    ) -> list[Entry]: ...


@dataclass(frozen=True)
class Operations:
    """Everything the command use cases need, as ports."""

    deploy: DeployTool | None
    groups: GroupDirectory
    releases: ReleaseReader
    audit: AuditLog
    ledgers: LedgerFactory
    directory: Directory
    clock: Callable[[], datetime]
    argocd_url: str | None = None
    dora: DoraSource | None = None
    oncall: OnCallDirectory | None = None  # PagerDuty; None: Herald knows no on-call
    freezes: FreezeBook = field(default_factory=FixedFreezes)  # change freezes
    calendar: CalendarSource | None = None  # the release calendar's store queries
    burn: BurnGauge | None = None  # error-budget burn for the readiness checklist (Prometheus)
    dms: DmBook | None = None  # who asked for DMs about their releases (the Home tab)


@dataclass(frozen=True)
class Reply:
    """What the user is told, as text the Slack adapter renders."""

    ok: bool
    text: Text


async def authorize(
    ops: Operations, *, actor: str, action: str, where: ServiceEnv, note: bool = True
) -> Reply | None:
    """None when `actor` may act; otherwise the refusal, already audited (and, unless not to
    `note`, said in the release's thread)."""
    if actor == SYSTEM_ACTOR:
        return None
    entry = ops.directory.service(where.service)
    decision = await check_access(
        user=actor,
        entry=entry,
        admins=ops.directory.admins,
        groups=ops.groups,
        oncall=ops.oncall,
    )
    if decision.allowed:
        return None
    await audit(
        ops,
        actor=actor,
        action=action,
        where=where,
        decision=AuditDecision.DENIED,
        outcome=AuditOutcome.REFUSED,
        detail=decision.reason,
        note=note,
    )
    return Reply(False, text(Emoji("no_entry"), " ", decision.reason))


async def audit(
    ops: Operations,
    *,
    actor: str,
    action: str,
    where: ServiceEnv,
    decision: AuditDecision,
    outcome: AuditOutcome,
    detail: Text = EMPTY,
    response: str = "",
    args: dict[str, Any] | None = None,
    note: bool = True,
) -> None:
    """Append to the audit log (`detail` in plain text) and (unless not to `note`) reply in
    the service's current release thread: what was done, or who tried and why they could not."""
    release = await ops.releases.latest(service=where.service, env=where.env)
    await ops.audit.record(
        AuditEntry(
            at=ops.clock(),
            actor=actor,
            action=action,
            decision=decision,
            outcome=outcome,
            service=where.service,
            env=where.env,
            release_id=release.id if release else None,
            args=args or {},
            detail=detail.plain(),
            response=response,
        )
    )
    if note and release is not None:
        async with ops.ledgers() as ledger:
            await ledger.enqueue([Notice.note(release, _said(actor, action, decision, detail))])


async def audit_release(
    ops: Operations,
    *,
    actor: str,
    action: str,
    release: Release,
    detail: str = "",
    allowed: bool = True,
) -> None:
    """Append what `actor` did (or was refused) to a release, said in no thread (the caller
    says it where it belongs)."""
    await ops.audit.record(
        AuditEntry(
            at=ops.clock(),
            actor=actor,
            action=action,
            decision=AuditDecision.ALLOWED if allowed else AuditDecision.DENIED,
            outcome=AuditOutcome.DONE if allowed else AuditOutcome.REFUSED,
            service=release.service,
            env=release.env,
            release_id=release.id,
            detail=detail[:2000],
        )
    )


def _said(actor: str, action: str, decision: AuditDecision, detail: Text) -> Text:
    """What the release's thread hears of a command: done, or tried and refused, and why."""
    if actor == SYSTEM_ACTOR:
        return text("Herald, automatically: ", detail)
    if decision is AuditDecision.DENIED:
        return text(Emoji("no_entry"), " ", User(actor), " tried ", Code(f"/deploy {action}"), ": ",
                    detail)  # fmt: skip
    return text(Code(f"/deploy {action}"), " by ", User(actor), ": ", detail)


def require_target(where: ServiceEnv, *, rollout: bool) -> DeployTarget | Reply:
    target = where.target
    if target is None:
        return Reply(
            False,
            text(Code(where.service), f" {where.env} is not wired to Argo CD in HERALD_CONFIG."),
        )
    if rollout and target.rollout is None:
        return Reply(
            False, text(Code(where.service), f" {where.env} has no Argo Rollout configured.")
        )
    return target
