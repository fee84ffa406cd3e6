"""Running one checkup: judge, record, report, page on red, roll back when policy allows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.checkup.checkup import Checkup, CheckupReport, Judge, may_auto_rollback
from bot.domain.checkup.verdict import Color, Verdict
from bot.domain.deploy.context import SYSTEM_ACTOR, Operations, Reply
from bot.domain.deploy.rollback import RollbackPlan, execute_rollback, plan_rollback
from bot.domain.paging import Page, release_dedup_key
from bot.domain.ports import Ledger, LedgerFactory
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.release.recording import record_event
from bot.domain.signals.alert_rollback import note_step
from bot.domain.signals.alerts import AlertDecision, AlertStatus
from bot.domain.signals.rollback_policy import (
    already_rolled_back,
    checkup_cause,
    resume_text,
    take_auto_rollback,
)
from bot.domain.text import Emoji, display_version, text
from bot.domain.transactions import run_in_transaction

log = logging.getLogger(__name__)
PAGE_RETRY_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class CheckupRunner:
    judge: Judge
    operations: Operations
    auto_rollback_for: Callable[[str, str], bool]
    clock: Callable[[], datetime]

    async def run(self, checkup: Checkup) -> CheckupReport | None:
        """Judge and record the checkup, then roll back when policy says so. A checkup judged
        before a crash comes back with only its rollback left to do (None is returned)."""
        if checkup.rollback_pending:
            await self._resume_rollback(checkup)
            return None
        verdict = await self.judge.judge(checkup)
        now = self.clock()
        newest = await self.operations.releases.latest(service=checkup.service, env=checkup.env)
        # Run again, in a new transaction, if another checkup of this release escalated meanwhile.
        report, release, roll_back = await run_in_transaction(
            self.operations.ledgers,
            lambda ledger: self._record(ledger, checkup, verdict, now=now, newest=newest),
        )
        if roll_back:
            return replace(report, actions=(await self._roll_back(release, checkup),))
        return report

    async def _record(
        self,
        ledger: Ledger,
        checkup: Checkup,
        verdict: Verdict,
        *,
        now: datetime,
        newest: Release | None,
    ) -> tuple[CheckupReport, Release, bool]:
        """In one transaction: the verdict, the report, on red the page and the failure, and
        whether an auto-rollback is owed (kept with the checkup until it is carried out)."""
        release = await ledger.get_release(checkup.release_id)
        assert release is not None, "a checkup always belongs to a stored release"
        report = CheckupReport(checkup, verdict, late_by=checkup.late_by(now))
        if verdict.color is Color.RED:  # first, so the report also lands in the ops thread
            await _escalate(
                ledger,
                release=release,
                checkup=checkup,
                verdict=verdict,
                now=now,
                argocd=self._argocd_link(release),
            )
            release = await ledger.get_release(checkup.release_id) or release
        roll_back = may_auto_rollback(
            verdict=verdict,
            checkup=checkup,
            release=release,
            newest=newest,
            enabled=self.auto_rollback_for(checkup.service, checkup.env),
            policy=self.judge.policy,
        )
        await ledger.finish_checkup(
            checkup_id=checkup.id,
            color=verdict.color,
            result=_result(report),
            rollback_pending=roll_back,
        )
        await ledger.enqueue(report_notices(release, report))
        return report, release, roll_back

    def _argocd_link(self, release: Release) -> str | None:
        base = self.operations.argocd_url
        entry = self.operations.directory.services.get(release.service)
        where = entry.envs.get(release.env) if entry else None
        if not base or where is None or where.target is None:
            return None
        return f"{base.rstrip('/')}/applications/{where.target.app}"

    async def _roll_back(self, release: Release, checkup: Checkup) -> str:
        """Take the release's one automatic rollback (an alert may have taken it), plan (or
        reuse the plan kept before a crash), carry it out once, close the checkup."""
        ops = self.operations
        cause = checkup_cause(checkup.id)
        held = await take_auto_rollback(
            ops.audit, release_id=release.id, cause=cause, at=ops.clock()
        )
        if held is not None:
            outcome = f"Auto-rollback not carried out: {already_rolled_back(held.at).plain()}."
        else:
            outcome = await self._carry_out(release, checkup)
        async with ops.ledgers() as ledger:
            await ledger.finish_rollback(checkup_id=checkup.id, outcome=outcome)
        return outcome

    async def _carry_out(self, release: Release, checkup: Checkup) -> str:
        plan = await self._rollback_plan(release, checkup)
        if not isinstance(plan, RollbackPlan):
            why = plan.text.plain()
            log.warning("auto-rollback not possible: %s", why, extra={"release_id": release.id})
            return f"Auto-rollback not possible: {why}"
        reply = await execute_rollback(
            self.operations,
            actor=SYSTEM_ACTOR,
            plan=plan,
            resume=checkup.rollback_plan is not None,
        )
        if reply.ok:
            where = self.operations.directory.resolve(release.service, release.env)
            resume = text(Emoji("white_check_mark"), " Automatic rollback done. ")
            said = resume + resume_text(plan, where=where)
            await note_step(self.operations, release_id=release.id, said=said)
        return f"Auto-rollback after the {checkup.label} checkup: {reply.text.plain()}"

    async def _rollback_plan(self, release: Release, checkup: Checkup) -> RollbackPlan | Reply:
        if checkup.rollback_plan is not None:
            return RollbackPlan.decode(checkup.rollback_plan)
        where = self.operations.directory.resolve(release.service, release.env)
        plan = await plan_rollback(self.operations, actor=SYSTEM_ACTOR, where=where, to=None)
        if isinstance(plan, RollbackPlan):
            async with self.operations.ledgers() as ledger:
                await ledger.keep_rollback_plan(checkup_id=checkup.id, plan=plan.encode())
        return plan

    async def _resume_rollback(self, checkup: Checkup) -> None:
        """Herald stopped between the red verdict and the end of its rollback: finish it,
        unless it is done already or a newer release has been deployed since."""
        async with self.operations.ledgers() as ledger:
            release = await ledger.get_release(checkup.release_id)
        assert release is not None, "a checkup always belongs to a stored release"
        newest = await self.operations.releases.latest(service=checkup.service, env=checkup.env)
        if EventType.ROLLED_BACK in release.times or newest is None or newest.id != release.id:
            skipped = "already rolled back" if newest and newest.id == release.id else "superseded"
            async with self.operations.ledgers() as ledger:
                await ledger.finish_rollback(
                    checkup_id=checkup.id, outcome=f"Auto-rollback not resumed: {skipped}."
                )
            return
        log.warning(
            "resuming an auto-rollback interrupted by a restart",
            extra={"release_id": release.id, "checkup": checkup.label},
        )
        await self._roll_back(release, checkup)


async def _escalate(
    ledger: Ledger,
    *,
    release: Release,
    checkup: Checkup,
    verdict: Verdict,
    now: datetime,
    argocd: str | None = None,
) -> None:
    """Red: page on-call once per release, and record the release as failed."""
    page = build_page(release, verdict)
    if argocd:
        page = replace(page, links=((argocd, "Argo CD"), *page.links))
    await ledger.enqueue_page(release_id=release.id, page=page, deadline=now + PAGE_RETRY_WINDOW)
    request = EventRequest(
        event=EventType.FAILED,
        symptom=verdict.symptom(),
        blast_radius=verdict.blast_radius(),
        pagerduty="on-call paged",
        next="rolling back"
        if release.rollback_target
        else "investigate; roll back if it gets worse",
        actor=SYSTEM_ACTOR,
        reason=f"red verdict at the {checkup.label} checkup",
    )
    if is_legal(release.state, EventType.FAILED):
        await record_event(ledger=ledger, release_id=release.id, request=request, now=now)


def build_page(release: Release, verdict: Verdict) -> Page:
    version = display_version(release.version)
    summary = (
        f"release.failed | {release.service} | {release.env} | {version} ({release.id})"
        f" — {verdict.symptom()}"
    )
    links = tuple((url, name) for name, url in release.links().items())
    return Page(
        dedup_key=release_dedup_key(release.id),
        summary=summary,
        source=f"herald/{release.service}/{release.env}",
        severity="critical",
        component=release.service,
        group=release.env,
        links=links[:5],
        custom_details={
            "release": release.id,
            "version": release.version,
            "owner": release.owner,
            "rules": list(verdict.fired_rules()),
            "findings": [f"{f.rule} {f.metric}: {f.detail}" for f in verdict.findings][:20],
        },
    )


def report_notices(release: Release, report: CheckupReport) -> list[Notice]:
    """The report goes in the feed thread, and in the ops thread when the release failed."""
    notices = [
        Notice(
            NoticeKind.CHECKUP,
            Audience.FEED_THREAD,
            release,
            None,
            report=report,
            urgent=report.verdict.color is Color.RED,
        )
    ]
    if EventType.FAILED in release.times:
        notices.append(replace(notices[0], audience=Audience.OPS_THREAD))
    return notices


def _result(report: CheckupReport) -> dict[str, object]:
    verdict = report.verdict
    return {
        "color": verdict.color.value,
        "rules": list(verdict.fired_rules()),
        "findings": [
            {"rule": f.rule, "metric": f.metric, "outcome": f.outcome, "detail": f.detail}
            for f in verdict.findings
        ],
        "low_confidence": verdict.low_confidence,
        "late_seconds": report.late_by.total_seconds() if report.late_by else None,
    }


async def page_for_alert(*, ledgers: LedgerFactory, decision: AlertDecision, now: datetime) -> None:
    """A firing, paging-severity alert on a release pages on-call (once per release)."""
    if not decision.should_page or decision.status is not AlertStatus.FIRING:
        return
    async with ledgers() as ledger:
        release = await ledger.get_release(decision.release_id)
        if release is None:
            return
        version = display_version(release.version)
        page = Page(
            dedup_key=release_dedup_key(release.id),
            summary=f"release alert | {release.service} | {release.env} | {version} "
            f"({release.id}) — {decision.summary}",
            source=f"herald/{release.service}/{release.env}",
            severity="critical",
            component=release.service,
            group=release.env,
            custom_details={"alert_fingerprint": decision.fingerprint, "release": release.id},
        )
        await ledger.enqueue_page(
            release_id=release.id, page=page, deadline=now + PAGE_RETRY_WINDOW
        )
