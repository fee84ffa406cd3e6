"""What one watch evaluation concluded: a colour (or inconclusive), and each rule with its
numbers, in the checkups' ``Finding`` and ``Signal`` types so a report can show both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.checkup.evaluators import ERROR, FAIL, OUTCOME_RANK, PASS, Finding, Signal
from bot.domain.checkup.verdict import Color, Verdict
from bot.domain.watch.inputs import Comparison

__all__ = ["WatchColor", "WatchVerdict", "unknown_watch_verdict"]


class WatchColor(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    INCONCLUSIVE = "inconclusive"  # too little traffic yet, or no colour has settled: never green
    UNKNOWN = "unknown"  # Prometheus unreachable: never green

    @property
    def color(self) -> Color:
        """The checkups' colour: INCONCLUSIVE reads as YELLOW there, as an inconclusive
        critical metric makes a checkup YELLOW."""
        return Color.YELLOW if self is WatchColor.INCONCLUSIVE else Color(self.value)


@dataclass(frozen=True)
class WatchVerdict:
    color: WatchColor
    at: datetime  # the evaluation time, on the grid
    age: timedelta  # at - R
    findings: tuple[Finding, ...]
    signals: tuple[Signal, ...]
    requests: int = 0  # N_W, the subject's requests over W
    comparison: Comparison | None = None  # None when Prometheus could not be asked
    ceiling_streak: int = 0  # consecutive evaluations over W2's ceiling, this one included
    impact: str | None = None  # best-effort blast radius when not green

    def fired_rules(self) -> tuple[str, ...]:
        """The rules that FAILed, in report order."""
        return tuple(dict.fromkeys(f.rule for f in self.findings if f.outcome == FAIL))

    def reason(self) -> str:
        """One line: the findings of the worst outcome (``not enough traffic yet: ...``)."""
        if not self.findings:
            return "no data"
        worst = max(OUTCOME_RANK[f.outcome] for f in self.findings)
        if worst == OUTCOME_RANK[PASS]:
            return "no regression in the release's first minutes"
        shown = [f for f in self.findings if OUTCOME_RANK[f.outcome] == worst]
        said = (f.detail if f.rule == f.outcome else f"{f.rule}: {f.detail}" for f in shown)
        return "; ".join(said)

    def as_verdict(self) -> Verdict:
        """The checkups' ``Verdict``, for what a red verdict sets off (page, rollback):
        ``checkpoint`` is the age, and confidence is low, as a few minutes of traffic give."""
        return Verdict(
            color=self.color.color,
            findings=self.findings,
            signals=self.signals,
            low_confidence=True,
            score=None,
            checkpoint=self.age,
            impact=self.impact,
        )


def unknown_watch_verdict(
    reason: str, *, at: datetime, age: timedelta, source: str = "prometheus"
) -> WatchVerdict:
    """The evaluation when Prometheus cannot be reached at all (or judging failed)."""
    finding = Finding("ERROR", source, ERROR, reason)
    signal = Signal("metrics", "—", "unavailable" if source == "prometheus" else "unjudged", ERROR)
    return WatchVerdict(WatchColor.UNKNOWN, at, age, (finding,), (signal,))
