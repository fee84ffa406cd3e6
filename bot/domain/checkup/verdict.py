"""A checkup's verdict: green, yellow, red (or unknown), by ``docs/verdict.md`` §3.

``evaluate`` runs every evaluator over the collected inputs and aggregates them (§3.4). The
series evaluators (latency, saturation, business KPI: Kayenta-like comparisons with the
median ratio pinned) live here; those over request counts and health in
``bot.domain.checkup.evaluators``. Pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from bot.domain.checkup.evaluators import (
    CRITICAL,
    ERROR,
    FAIL,
    INCONCLUSIVE,
    OUTCOME_RANK,
    PASS,
    WARN,
    Draft,
    Finding,
    MetricResult,
    Signal,
    VerdictPolicy,
    burn,
    counts,
    error_ratio,
    every,
    fmt_count,
    fmt_p,
    health,
    query_errors,
    traffic,
)
from bot.domain.checkup.metrics import CheckupInputs, Series
from bot.domain.checkup.stats import Comparison, compare, median, ratio

__all__ = [
    "Color",
    "Finding",
    "Signal",
    "Verdict",
    "VerdictPolicy",
    "evaluate",
    "unknown_verdict",
]

DEFAULT_POLICY = VerdictPolicy()
DEFAULT_ROLLBACK_RULES = DEFAULT_POLICY.auto_rollback_rules


class Color(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"  # Prometheus unreachable: never green


@dataclass(frozen=True)
class Verdict:
    color: Color
    findings: tuple[Finding, ...]
    signals: tuple[Signal, ...]
    low_confidence: bool  # fewer than ~2,000 requests a side: green means "no gross regression"
    score: float | None  # Kayenta-style 0..100, for information only
    checkpoint: timedelta | None = None
    impact: str | None = None  # see blast_radius()

    def fired_rules(self) -> tuple[str, ...]:
        """The rules that FAILed, in report order."""
        return tuple(dict.fromkeys(f.rule for f in self.findings if f.outcome == FAIL))

    def rollback_eligible(
        self,
        auto_rollback_rules: Collection[str] = DEFAULT_ROLLBACK_RULES,
        *,
        max_checkpoint: timedelta = timedelta(hours=1),
        newest: bool = True,
        opted_out: bool = False,
        dry_run_metrics: Collection[str] = (),
    ) -> bool:
        """RED, T ≤ ``max_checkpoint``, the release still the newest, the service not opted
        out, and a FAILed rule in ``auto_rollback_rules`` on a metric not in dry-run."""
        if self.color is not Color.RED or self.checkpoint is None or not newest or opted_out:
            return False
        if self.checkpoint > max_checkpoint:
            return False
        return any(
            f.outcome == FAIL and f.rule in auto_rollback_rules and f.metric not in dry_run_metrics
            for f in self.findings
        )

    def symptom(self) -> str:
        """One line for the incident template, from the worst finding."""
        if not self.findings:
            return "no data"
        worst = max(self.findings, key=lambda f: OUTCOME_RANK[f.outcome])
        if self.color is Color.UNKNOWN:
            return f"metrics unavailable: {worst.detail}"
        if worst.outcome == PASS:
            return "no regression detected"
        return f"{worst.rule}: {worst.detail}"

    def blast_radius(self) -> str:
        """Best effort, e.g. "~3.1% of requests failing"."""
        if self.impact:
            return self.impact
        return {Color.GREEN: "none detected", Color.UNKNOWN: "unknown (no metrics)"}.get(
            self.color, "unknown"
        )


def unknown_verdict(message: str) -> Verdict:
    """The verdict when Prometheus cannot be reached at all."""
    finding = Finding("ERROR", "prometheus", ERROR, message)
    signal = Signal("metrics", "—", "unavailable", ERROR)
    return Verdict(Color.UNKNOWN, (finding,), (signal,), low_confidence=True, score=None)


def evaluate(
    inputs: CheckupInputs, *, checkpoint: timedelta, policy: VerdictPolicy = DEFAULT_POLICY
) -> Verdict:
    """Judge one checkup (§3.3 evaluators, §3.4 aggregation)."""
    candidates = (
        error_ratio(inputs, policy),
        traffic(inputs, policy),
        latency(inputs, policy, "p95"),
        latency(inputs, policy, "p99"),
        saturation(inputs, policy),
        kpi(inputs, policy),
        health(inputs, policy),
        burn(inputs, policy, checkpoint),
    )
    results = tuple(r for r in candidates if r is not None)
    n_p, n_b = counts(inputs.post)[1], counts(inputs.reference)[1]
    color = _color(results)
    worst = max((OUTCOME_RANK[r.outcome] for r in results), default=0)
    impact = next((r.impact for r in results if OUTCOME_RANK[r.outcome] == worst), None)
    return Verdict(
        color=color,
        findings=tuple(f for r in results for f in r.findings),
        signals=tuple(r.signal for r in results),
        low_confidence=min(n_p, n_b) < policy.confident_requests,
        score=_score(results),
        checkpoint=checkpoint,
        impact=impact if color is not Color.GREEN else None,
    )


def _color(results: Sequence[MetricResult]) -> Color:
    outcomes = [r.outcome for r in results]
    if FAIL in outcomes:
        return Color.RED
    critical = any(r.metric in CRITICAL and r.outcome in (INCONCLUSIVE, ERROR) for r in results)
    many_unknown = 2 * outcomes.count(INCONCLUSIVE) >= len(outcomes)
    if WARN in outcomes or critical or many_unknown:
        return Color.YELLOW
    return Color.GREEN


def _score(results: Sequence[MetricResult]) -> float | None:
    """100 * Pass / (Pass + Warn + Fail); 0 on a critical FAIL or ≥ 50 % INCONCLUSIVE."""
    outcomes = [r.outcome for r in results]
    critical_fail = any(r.metric in CRITICAL and r.outcome == FAIL for r in results)
    if critical_fail or (outcomes and 2 * outcomes.count(INCONCLUSIVE) >= len(outcomes)):
        return 0.0
    judged = [o for o in outcomes if o in (PASS, WARN, FAIL)]
    return 100.0 * judged.count(PASS) / len(judged) if judged else None


# -- series metrics ----------------------------------------------------------------------------


def _finite(series: Series | None, *, nan_as_zero: bool = False) -> list[float]:
    """Drop NaNs (count KPIs: NaN is 0); outliers are kept."""
    if nan_as_zero:
        return [0.0 if math.isnan(v) else v for v in series or ()]
    return [v for v in series or () if not math.isnan(v)]


def _compare(
    post: list[float], base: list[float], policy: VerdictPolicy, *, less: bool = False
) -> Comparison | None:
    """None when either side has fewer than ``min_points`` points."""
    if min(len(post), len(base)) < policy.min_points:
        return None
    return compare(post, base, alternative="less" if less else "greater")


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return "∞ ms" if math.isinf(seconds) else f"{seconds * 1000:,.0f} ms"


def _few_points(d: Draft, post: list[float], base: list[float], policy: VerdictPolicy) -> None:
    said = f"{len(post)} points since the release, {len(base)} in the baseline"
    d.add("INCONCLUSIVE", INCONCLUSIVE, f"{said} (need {policy.min_points} each)")


def latency(
    inputs: CheckupInputs, policy: VerdictPolicy, which: Literal["p95", "p99"]
) -> MetricResult | None:
    """p95: R3 / Y3; p99: Y4 only (worse with ratio ≥ threshold, or above the limit)."""
    d = Draft(which, f"{which} latency")
    if failed := query_errors(inputs, d, (which, "requests")):
        return failed
    if getattr(inputs.post, which) is None:
        return None  # switched off
    post, base = _finite(getattr(inputs.post, which)), _finite(getattr(inputs.reference, which))
    now, was = (median(post) if post else None), (median(base) if base else None)
    p95, n_p = which == "p95", counts(inputs.post)[1]
    need = policy.min_requests_p95 if p95 else policy.min_requests_p99
    limit = (policy.p95_abs_ms if p95 else policy.p99_abs_ms) / 1000.0
    cmp = _compare(post, base, policy)
    worse = cmp is not None and cmp.worse(
        alpha=policy.alpha,
        threshold=policy.p95_ratio if p95 else policy.p99_ratio,
        alternative="greater",
    )
    if n_p < need:
        said = f"only {fmt_count(n_p)} requests since the release (need {need})"
        d.add("INCONCLUSIVE", INCONCLUSIVE, f"{said} to judge {which} latency")
    else:
        if p95:
            _r3(d, inputs, policy, limit, worse=worse, was=was)
        rule = "Y3" if p95 else "Y4"
        if cmp is not None and worse:
            stats = f"{cmp.ratio:.2f}×, {fmt_p(cmp.p)}"
            d.add(rule, WARN, f"{which} {_ms(now)} vs baseline {_ms(was)} ({stats})")
        elif now is not None and now > limit:
            d.add(rule, WARN, f"{which} {_ms(now)} above {_ms(limit)} (not sustained)")
        if not d.findings and cmp is None:
            _few_points(d, post, base, policy)
    passed = d.passed("R3" if p95 else "Y4", f"{which} {_ms(now)} vs baseline {_ms(was)}")
    impact = f"{which} latency {_ms(now)} (baseline {_ms(was)})"
    return d.done(passed, baseline=_ms(was), now=_ms(now), impact=impact)


def _r3(
    d: Draft,
    inputs: CheckupInputs,
    policy: VerdictPolicy,
    limit: float,
    *,
    worse: bool,
    was: float | None,
) -> None:
    """R3: p95 above the limit at every point of S with ≥ 100 requests there; if the baseline
    was already above it, only when also worse with ratio ≥ 1.2 (else a WARN)."""
    n_s, points = inputs.sustain.requests or 0.0, inputs.sustain.p95
    if n_s < policy.min_requests_sustain_p95 or not every(points, lambda v: v > limit):
        return
    lowest = min(v for v in points if v is not None)
    said = f"p95 above {_ms(limit)} at all {len(points)} points of the last 5 minutes"
    said += f" (lowest {_ms(lowest)}, {fmt_count(n_s)} requests)"
    if was is not None and was > limit and not worse:
        d.add("Y3", WARN, f"{said}, but the baseline was already {_ms(was)}")
    else:
        d.add("R3", FAIL, said)


def saturation(inputs: CheckupInputs, policy: VerdictPolicy) -> MetricResult | None:
    """SAT FAIL: ≥ 0.95 at every point of S; WARN: ≥ 0.80, or worse with ratio ≥ 1.25."""
    d = Draft("saturation", "saturation")
    if failed := query_errors(inputs, d, ("saturation",)):
        return failed
    if inputs.post.saturation is None:
        return None
    post, base = _finite(inputs.post.saturation), _finite(inputs.reference.saturation)
    now, was = (median(post) if post else None), (median(base) if base else None)
    pct = "{:.0%}".format
    if every(inputs.sustain.saturation, lambda v: v >= policy.saturation_red):
        d.add("SAT", FAIL, f"saturation ≥ {pct(policy.saturation_red)} for the last 5 minutes")
    cmp = _compare(post, base, policy)
    if now is not None and now >= policy.saturation_warn:
        d.add("SAT", WARN, f"saturation {pct(now)} ≥ {pct(policy.saturation_warn)}")
    elif cmp and cmp.worse(
        alpha=policy.alpha, threshold=policy.saturation_ratio, alternative="greater"
    ):
        said = f"saturation {pct(cmp.post_median)} vs baseline {pct(cmp.base_median)}"
        d.add("SAT", WARN, f"{said} ({cmp.ratio:.2f}×, {fmt_p(cmp.p)})")
    if not d.findings and cmp is None:
        _few_points(d, post, base, policy)
    shown = ("—" if now is None else pct(now)), ("—" if was is None else pct(was))
    passed = d.passed("SAT", f"saturation {shown[0]} vs baseline {shown[1]}")
    return d.done(passed, baseline=shown[1], now=shown[0], impact=f"saturation {shown[0]}")


def kpi(inputs: CheckupInputs, policy: VerdictPolicy) -> MetricResult | None:
    """KPI (vs B7, a drop is bad) FAIL: ratio ≤ 0.70 in P and S; WARN: worse, ratio ≤ 0.90."""
    d = Draft("kpi", "business KPI")
    if failed := query_errors(inputs, d, ("kpi",)):
        return failed
    if inputs.post.kpi is None:
        return None
    post = _finite(inputs.post.kpi, nan_as_zero=True)
    base = _finite(inputs.baseline7.kpi, nan_as_zero=True)
    events = inputs.baseline7.kpi_events or 0.0
    cmp = _compare(post, base, policy, less=True)
    if events < policy.kpi_min_events:
        said = f"only {fmt_count(events)} KPI events a week earlier"
        d.add("INCONCLUSIVE", INCONCLUSIVE, f"{said} (need {policy.kpi_min_events})")
    elif cmp is None:
        _few_points(d, post, base, policy)
    else:
        _kpi_rules(d, inputs, policy, cmp)
    per_min = "{:,.1f}/min".format
    now = per_min(cmp.post_median) if cmp else "—"
    was = per_min(cmp.base_median) if cmp else "—"
    passed = d.passed("KPI", f"KPI {now} vs {was} a week earlier")
    return d.done(passed, baseline=was, now=now, impact=f"business KPI at {now} (was {was})")


def _kpi_rules(d: Draft, inputs: CheckupInputs, policy: VerdictPolicy, cmp: Comparison) -> None:
    points = [0.0 if v is None or math.isnan(v) else v for v in inputs.sustain.kpi]
    in_s = ratio(median(points), cmp.base_median) if points else None
    said = f"KPI at {cmp.ratio:.0%} of a week earlier"
    if cmp.ratio <= policy.kpi_red and in_s is not None and in_s <= policy.kpi_red:
        d.add("KPI", FAIL, f"{said}, {in_s:.0%} over the last 5 minutes")
    elif cmp.worse(alpha=policy.alpha, threshold=policy.kpi_warn, alternative="less"):
        d.add("KPI", WARN, f"{said} ({fmt_p(cmp.p)})")
