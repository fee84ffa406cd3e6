"""Post-deploy checkups: planned on deploy, run once each, judged, reported, acted on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.checkup.evaluators import ERROR, Finding, Signal
from bot.domain.checkup.metrics import MetricsSource, MetricsUnavailable, ServiceQueries
from bot.domain.checkup.offsets import offset_label
from bot.domain.checkup.verdict import Color, Verdict, VerdictPolicy, evaluate, unknown_verdict
from bot.domain.release.model import Release

LATE_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Checkup:
    id: int
    release_id: str
    service: str
    env: str
    offset: timedelta
    deployed_at: datetime
    due_at: datetime
    attempts: int = 1
    rollback_pending: bool = False  # judged red; the auto-rollback it called for is not done
    rollback_plan: str | None = None  # that rollback's plan (encoded), once chosen

    @property
    def label(self) -> str:
        return offset_label(self.offset)

    def late_by(self, now: datetime) -> timedelta | None:
        """How late the checkup runs, when that is worth saying (Herald was down, say)."""
        late = now - self.due_at
        return late if late > LATE_AFTER else None


@dataclass(frozen=True)
class CheckupReport:
    """What a checkup found, for the release's threads and `/deploy status`."""

    checkup: Checkup
    verdict: Verdict
    late_by: timedelta | None = None
    superseded_by: str | None = None
    actions: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Judge:
    """Turns a checkup into a verdict: metrics from the source, rules from docs/verdict.md."""

    metrics: MetricsSource | None
    queries_for: Callable[[str], ServiceQueries]
    policy: VerdictPolicy = field(default_factory=VerdictPolicy)

    async def judge(self, checkup: Checkup) -> Verdict:
        if self.metrics is None:
            return unknown_verdict("PROMETHEUS_URL is not set, so Herald cannot judge health")
        try:
            inputs = await self.metrics.collect(
                queries=self.queries_for(checkup.service),
                service=checkup.service,
                env=checkup.env,
                release_end=checkup.deployed_at,
                checkpoint=checkup.offset,
            )
        except MetricsUnavailable as exc:
            return unknown_verdict(str(exc))
        return evaluate(inputs, checkpoint=checkup.offset, policy=self.policy)


def could_not_judge(reason: str) -> Verdict:
    """The verdict of a checkup whose judging kept failing: UNKNOWN with the reason, never
    green, and never a page or a rollback."""
    finding = Finding("ERROR", "verdict", ERROR, f"Could not judge: {reason}")
    signal = Signal("verdict", "—", "could not judge", ERROR)
    return Verdict(Color.UNKNOWN, (finding,), (signal,), low_confidence=True, score=None)


def describe_failure(exc: BaseException, *, limit: int = 300) -> str:
    """One line naming what went wrong, for a report and a log line."""
    said = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    said = " ".join(said.split())
    return said if len(said) <= limit else said[: limit - 1] + "…"


def may_auto_rollback(
    *,
    verdict: Verdict,
    checkup: Checkup,
    release: Release,
    newest: Release | None,
    enabled: bool,
    policy: VerdictPolicy,
) -> bool:
    """docs/verdict.md §3.4: a rule that allows it, within the first hour, on the newest release."""
    return (
        enabled
        and verdict.color is Color.RED
        and verdict.rollback_eligible(policy.auto_rollback_rules)
        and checkup.offset <= policy.auto_rollback_max_checkpoint
        and newest is not None
        and newest.id == release.id
    )
