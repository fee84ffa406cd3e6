"""`/deploy status`: one screen built from Argo CD, the Rollout, PagerDuty and Herald's store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from bot.domain.deploy.context import Operations, audit
from bot.domain.deploy.tool import AppStatus, DeployToolError, RolloutStatus
from bot.domain.freeze.window import Occurrence
from bot.domain.ports import AuditDecision, AuditOutcome, CheckupSummary
from bot.domain.release.model import Release
from bot.domain.services.directory import ServiceEnv
from bot.domain.services.oncall import OnCallLookupError


@dataclass(frozen=True)
class StatusReport:
    where: ServiceEnv
    release: Release | None = None
    app: AppStatus | None = None
    rollout: RolloutStatus | None = None
    links: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    checkups: CheckupSummary = field(default_factory=CheckupSummary)
    on_call: frozenset[str] = frozenset()  # Slack user ids; empty: none known
    on_call_problem: str | None = None  # why the on-call is unknown
    freezes: tuple[Occurrence, ...] = ()  # in force now, the one ending last first
    rehearsal: str | None = None  # `Rollback rehearsed in staging 2 days ago: passed`


async def build_status(
    ops: Operations, *, where: ServiceEnv, actor: str | None = None
) -> StatusReport:
    """Argo CD and PagerDuty are asked in parallel; either one failing becomes a line. Asked
    by `actor`, it is audited like every command (not said in the thread: it changes nothing)."""
    report, (on_call, problem) = await asyncio.gather(
        _deploy_status(ops, where=where), _on_call(ops, where.service)
    )
    if actor is not None:
        await audit(
            ops,
            actor=actor,
            action="status",
            where=where,
            decision=AuditDecision.ALLOWED,
            outcome=AuditOutcome.DONE,
            note=False,
        )
    now = ops.clock()
    frozen = (await ops.freezes.calendar(now=now)).holding(where.service, where.env, at=now)
    rehearsed = await ops.releases.rehearsal_of(report.release) if report.release else None
    said = rehearsed.describe(now=now) if rehearsed else None
    return replace(
        report, on_call=on_call, on_call_problem=problem, freezes=tuple(frozen), rehearsal=said
    )


async def _deploy_status(ops: Operations, *, where: ServiceEnv) -> StatusReport:
    """Gather everything in parallel; an unreachable Argo CD becomes a line, not a failure."""
    release = await ops.releases.latest(service=where.service, env=where.env)
    links = await ops.releases.message_links(release.id) if release else {}
    checkups = await ops.releases.checkup_summary(release.id) if release else CheckupSummary()
    target = where.target
    if target is None or ops.deploy is None:
        return StatusReport(
            where, release, links=links, problem="Not wired to Argo CD in HERALD_CONFIG."
        )
    if argocd_url := ops.argocd_url:
        links = {**links, "argocd": f"{argocd_url.rstrip('/')}/applications/{target.app}"}
    try:
        if target.rollout is not None:
            app, rollout = await asyncio.gather(
                ops.deploy.get_app(target), ops.deploy.get_rollout(target)
            )
        else:
            app, rollout = await ops.deploy.get_app(target), None
    except DeployToolError as exc:
        return StatusReport(where, release, links=links, problem=exc.message, checkups=checkups)
    return StatusReport(where, release, app, rollout, links, checkups=checkups)


async def _on_call(ops: Operations, service: str) -> tuple[frozenset[str], str | None]:
    if ops.oncall is None:
        return frozenset(), None
    try:
        return await ops.oncall.on_call(service), None
    except OnCallLookupError as exc:
        return frozenset(), exc.message


async def list_in_flight(ops: Operations) -> list[Release]:
    return await ops.releases.in_flight(now=ops.clock())
