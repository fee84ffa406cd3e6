"""Running one checkup: judge, record, report, page on red, roll back when policy allows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.checkup.checkup import (
    Checkup,
    CheckupReport,
    Judge,
    could_not_judge,
    may_auto_rollback,
)
from bot.domain.checkup.escalation import argocd_link, escalate
from bot.domain.checkup.verdict import Color, Verdict
from bot.domain.deploy.context import SYSTEM_ACTOR, Operations, Reply
from bot.domain.deploy.rollback import RollbackPlan, execute_rollback, plan_rollback
from bot.domain.ports import Ledger
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.signals.alert_rollback import note_step
from bot.domain.signals.rollback_policy import (
    already_rolled_back,
    checkup_cause,
    resume_text,
    take_auto_rollback,
)
from bot.domain.text import Code, Emoji, text
from bot.domain.transactions import run_in_transaction

log = logging.getLogger(__name__)
# An automatic rollback owed after a red verdict is tried again while this young; after
# that (Argo CD kept refusing, Herald was down) a person decides, and the thread says so.
RESUME_ROLLBACK_WITHIN = timedelta(minutes=30)


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
            lambda ledger: self._record(
                ledger, checkup, verdict, now=now, newest=newest, late_by=checkup.late_by(now)
            ),
        )
        if roll_back:
            return replace(report, actions=(await self._roll_back(release, checkup),))
        return report

    async def give_up(self, checkup: Checkup, *, reason: str) -> CheckupReport:
        """A checkup that could not be judged in its attempts: finished UNKNOWN, and its report
        ("Could not judge: ...") posted once. Nobody is paged and nothing is rolled back."""
        log.error(
            "checkup could not be judged; reported unknown: %s",
            reason,
            extra={"release_id": checkup.release_id, "checkup": checkup.label},
        )
        verdict, now = could_not_judge(reason), self.clock()
        # never "ran late": the time went on attempts, not on Herald being down
        report, _, _ = await run_in_transaction(
            self.operations.ledgers,
            lambda ledger: self._record(ledger, checkup, verdict, now=now, newest=None),
        )
        return report

    async def _record(
        self,
        ledger: Ledger,
        checkup: Checkup,
        verdict: Verdict,
        *,
        now: datetime,
        newest: Release | None,
        late_by: timedelta | None = None,
    ) -> tuple[CheckupReport, Release, bool]:
        """In one transaction: the verdict, the report, on red the page and the failure, and
        whether an auto-rollback is owed (kept with the checkup until it is carried out)."""
        release = await ledger.get_release(checkup.release_id)
        assert release is not None, "a checkup always belongs to a stored release"
        report = CheckupReport(checkup, verdict, late_by=late_by)
        if verdict.color is Color.RED:  # first, so the report also lands in the ops thread
            await escalate(
                ledger,
                release=release,
                verdict=verdict,
                reason=f"red verdict at the {checkup.label} checkup",
                now=now,
                argocd=argocd_link(self.operations, release),
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
        skipped = None
        if EventType.ROLLED_BACK in release.times or newest is None or newest.id != release.id:
            skipped = "already rolled back" if newest and newest.id == release.id else "superseded"
        elif (age := self.clock() - checkup.due_at) > RESUME_ROLLBACK_WITHIN:
            why = text(
                f"the {checkup.label} red verdict is {int(age.total_seconds() // 60)} min old,"
                " too old to act on unattended; roll back with ",
                Code("/deploy rollback"),
                " if needed",
            )
            said = text(Emoji("warning"), " Auto-rollback not resumed: ", why, ".")
            await note_step(self.operations, release_id=release.id, said=said)
            skipped = why.plain()
        if skipped is not None:
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
            offers_rollback=report.verdict.color is Color.RED,
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
