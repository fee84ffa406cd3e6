"""Evaluators over request counts and health (``docs/verdict.md`` §3.3), and the types
every evaluator shares. The series evaluators (latency, saturation, KPI) and the aggregation
live in ``bot.domain.checkup.verdict``.

An evaluator reads ``CheckupInputs`` and returns a ``MetricResult``: one metric's findings,
only those of its worst outcome (a FAIL hides the WARNs it implies), and its report row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.checkup.metrics import CheckupInputs, Points, WindowInputs, burn_pairs
from bot.domain.checkup.stats import rise_p, wilson_lower

PASS, WARN, FAIL, INCONCLUSIVE, ERROR = "PASS", "WARN", "FAIL", "INCONCLUSIVE", "ERROR"
OUTCOME_RANK = {PASS: 0, INCONCLUSIVE: 1, WARN: 2, ERROR: 3, FAIL: 4}
# Metrics whose INCONCLUSIVE or ERROR alone makes a checkup YELLOW.
CRITICAL = frozenset({"error_ratio", "p95", "health", "burn"})


@dataclass(frozen=True)
class Finding:
    rule: str  # "R1".."R6", "Y1".."Y6", "SAT", "KPI", "INCONCLUSIVE", "ERROR"
    metric: str  # "error_ratio", "traffic", "p95", "p99", "saturation", "kpi", "health", "burn"
    outcome: str  # PASS / WARN / FAIL / INCONCLUSIVE / ERROR
    detail: str  # a sentence with the numbers


@dataclass(frozen=True)
class Signal:
    """One row of the compact report: signal, baseline, now, verdict."""

    metric: str
    baseline: str
    now: str
    outcome: str


@dataclass(frozen=True)
class VerdictPolicy:
    """The thresholds of §3.5; every one can be overridden."""

    alpha: float = 0.01
    min_points: int = 50
    min_requests: int = 100  # error ratio and burn rate
    min_requests_p95: int = 100
    min_requests_p99: int = 1000
    min_requests_sustain: int = 50  # R2
    min_requests_sustain_p95: int = 100  # R3
    fisher_below: float = 5.0  # Fisher's exact test when an expected cell is below this
    error_delta_red: float = 0.01  # absolute: +1 percentage point
    error_ratio_warn: float = 0.02
    error_ratio_red: float = 0.05
    p95_abs_ms: float = 500.0
    p95_ratio: float = 1.2
    p99_abs_ms: float = 1000.0
    p99_ratio: float = 1.5
    saturation_warn: float = 0.80
    saturation_red: float = 0.95
    saturation_ratio: float = 1.25
    kpi_warn: float = 0.90
    kpi_red: float = 0.70
    kpi_min_events: int = 30
    slo: float = 0.999  # over 30 days
    burn_fast: float = 14.4
    burn_slow: float = 6.0
    burn_ticket: float = 3.0
    restarts_red: int = 3
    traffic_vanished: float = 0.10
    confident_requests: int = 2000  # fewer on either side: "low confidence"
    auto_rollback_rules: frozenset[str] = frozenset({"R1", "R2", "R3", "R4", "R5", "R6"})
    auto_rollback_max_checkpoint: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class MetricResult:
    metric: str
    findings: tuple[Finding, ...]
    signal: Signal
    impact: str | None = None  # best-effort blast radius, set when the metric WARNs or FAILs

    @property
    def outcome(self) -> str:
        return self.signal.outcome


@dataclass
class Draft:
    """One metric's findings as they are found."""

    metric: str
    label: str  # the report row's name
    findings: list[Finding] = field(default_factory=list)

    def add(self, rule: str, outcome: str, detail: str) -> None:
        self.findings.append(Finding(rule, self.metric, outcome, detail))

    def done(
        self, passed: Finding, *, baseline: str, now: str, impact: str | None = None
    ) -> MetricResult:
        """Keep the worst level of findings (``passed`` if there are none)."""
        found = self.findings or [passed]
        worst = max(OUTCOME_RANK[f.outcome] for f in found)
        kept = tuple(f for f in found if OUTCOME_RANK[f.outcome] == worst)
        signal = Signal(self.label, baseline, now, kept[0].outcome)
        shown = impact if worst >= OUTCOME_RANK[WARN] else None
        return MetricResult(self.metric, kept, signal, shown)

    def passed(self, rule: str, detail: str) -> Finding:
        return Finding(rule, self.metric, PASS, detail)


def query_errors(inputs: CheckupInputs, d: Draft, queries: Iterable[str]) -> MetricResult | None:
    """ERROR when one of the metric's queries still failed after its retries."""
    failed = [f"{q}: {inputs.errors[q]}" for q in queries if q in inputs.errors]
    if not failed:
        return None
    detail = "query failed after 2 retries: " + "; ".join(failed)
    finding = Finding("ERROR", d.metric, ERROR, detail)
    return MetricResult(d.metric, (finding,), Signal(d.label, "—", "query failed", ERROR))


# -- helpers -----------------------------------------------------------------------------------


def counts(window: WindowInputs | None) -> tuple[int, int]:
    """(errors, requests) of a window as whole numbers; a missing count is 0."""
    if window is None:
        return 0, 0
    n = max(0, round(window.requests or 0.0))
    return min(n, max(0, round(window.errors or 0.0))), n


def every(points: Points, holds: Callable[[float], bool]) -> bool:
    """A "for 5m" condition: S has points and every one is present and meets it."""
    return bool(points) and all(v is not None and not math.isnan(v) and holds(v) for v in points)


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def fmt_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def baseline_name(inputs: CheckupInputs) -> str:
    return "B7 baseline (a week earlier)" if inputs.baseline_polluted else "baseline"


# -- error ratio -------------------------------------------------------------------------------


def _significance(post: tuple[int, int], base: tuple[int, int], policy: VerdictPolicy) -> float:
    """One-sided p that post's error ratio is above base's (z-test, Fisher for small cells)."""
    (e1, n1), (e2, n2) = post, base
    return rise_p(e1, n1, e2, n2, fisher_below=policy.fisher_below)


def _point_ratios(inputs: CheckupInputs) -> Points:
    s = inputs.sustain
    errors = s.errors_points + (None,) * (len(s.requests_points) - len(s.errors_points))
    return tuple(
        None if n is None or n <= 0 else (e or 0.0) / n
        for n, e in zip(s.requests_points, errors, strict=False)
    )


def error_ratio(inputs: CheckupInputs, policy: VerdictPolicy) -> MetricResult:
    d = Draft("error_ratio", "5xx ratio")
    if failed := query_errors(inputs, d, ("requests", "errors")):
        return failed
    if mismatch := _more_errors_than_requests(inputs):
        finding = Finding("ERROR", d.metric, ERROR, mismatch)
        return MetricResult(d.metric, (finding,), Signal(d.label, "—", "queries disagree", ERROR))
    (e_p, n_p), (e_b, n_b) = counts(inputs.post), counts(inputs.reference)
    r_p, r_b = (e_p / n_p if n_p else None), (e_b / n_b if n_b else None)
    _relative_rules(d, inputs, policy, (e_p, n_p), (e_b, n_b))
    _absolute_rules(d, inputs, policy, e_p, n_p)
    if r_p is not None and r_p >= policy.error_ratio_warn:
        warn = fmt_pct(policy.error_ratio_warn)
        d.add("Y1", WARN, f"5xx ratio {fmt_pct(r_p)} ≥ {warn} ({fmt_count(n_p)} requests)")
    if not d.findings and n_p < policy.min_requests:
        need = f"(need {policy.min_requests}) to judge the 5xx ratio"
        d.add("INCONCLUSIVE", INCONCLUSIVE, f"only {fmt_count(n_p)} requests since release {need}")
    said = f"5xx ratio {fmt_pct(r_p)} vs {baseline_name(inputs)} {fmt_pct(r_b)}"
    passed = d.passed("R1", f"{said} ({fmt_count(n_p)} requests)")
    impact = f"~{r_p * 100:.1f}% of requests failing" if r_p else None
    return d.done(passed, baseline=fmt_pct(r_b), now=fmt_pct(r_p), impact=impact)


def _more_errors_than_requests(inputs: CheckupInputs) -> str | None:
    """The errors query counting more than the requests query (beyond the two counters'
    extrapolation): they do not measure the same requests, and no ratio of them means much."""
    for name, window in (("since the release", inputs.post), ("in the baseline", inputs.reference)):
        errors, requests = window.errors or 0.0, window.requests or 0.0
        if errors > requests * 1.01 + 1:
            counted = f"{fmt_count(errors)} errors of {fmt_count(requests)} requests {name}"
            return (
                f"the errors query counts more than the requests query ({counted}): "
                "they do not measure the same requests; check the service's queries"
            )
    return None


def _relative_rules(
    d: Draft,
    inputs: CheckupInputs,
    policy: VerdictPolicy,
    post: tuple[int, int],
    base: tuple[int, int],
) -> None:
    """R1: more than +1 pp, significant, at least as high in S; Y2: the same, not sustained."""
    (e_p, n_p), (e_b, n_b) = post, base
    if n_p < policy.min_requests or n_b == 0:
        return
    r_p, r_b = e_p / n_p, e_b / n_b
    delta = r_p - r_b
    if not delta > policy.error_delta_red:
        return
    p = _significance(post, base, policy)
    if p >= policy.alpha:
        return
    s = inputs.sustain
    r_s = (s.errors or 0.0) / s.requests if s.requests else None
    said = (
        f"5xx ratio {fmt_pct(r_p)} vs {baseline_name(inputs)} {fmt_pct(r_b)} "
        f"({delta * 100:+.2f} pp, {fmt_p(p)}, {fmt_count(n_p)} requests)"
    )
    if r_s is not None and r_s >= r_b + policy.error_delta_red:
        d.add("R1", FAIL, f"{said}; {fmt_pct(r_s)} over the last 5 minutes")
    else:
        d.add("Y2", WARN, f"{said}, not sustained: {fmt_pct(r_s)} over the last 5 minutes")


def _absolute_rules(
    d: Draft, inputs: CheckupInputs, policy: VerdictPolicy, e_p: int, n_p: int
) -> None:
    """R2: above 5 % at every point of S, or (under 100 requests) Wilson lower bound > 5 %."""
    red, n_s = policy.error_ratio_red, inputs.sustain.requests or 0.0
    ratios = _point_ratios(inputs)
    if n_s >= policy.min_requests_sustain and every(ratios, lambda r: r > red):
        lowest = fmt_pct(min(r for r in ratios if r is not None))
        where = f"at all {len(ratios)} points of the last 5 minutes"
        d.add("R2", FAIL, f"5xx ratio > {fmt_pct(red)} {where} (lowest {lowest}, {n_s:,.0f} req)")
    elif 0 < n_p < policy.min_requests and (bound := wilson_lower(e_p, n_p)) > red:
        said = f"5xx ratio {fmt_pct(e_p / n_p)} ({e_p} of {n_p} requests)"
        d.add("R2", FAIL, f"{said}: its 95% lower bound {fmt_pct(bound)} is above {fmt_pct(red)}")


# -- traffic, burn rate, health ----------------------------------------------------------------


def traffic(inputs: CheckupInputs, policy: VerdictPolicy) -> MetricResult:
    """R6: fewer than 10 % of the requests the baseline predicts (baseline ≥ 100)."""
    d = Draft("traffic", "requests")
    if failed := query_errors(inputs, d, ("requests",)):
        return failed
    n_p, n_b, base = counts(inputs.post)[1], counts(inputs.reference)[1], baseline_name(inputs)
    said = f"{fmt_count(n_p)} requests since the release vs {fmt_count(n_b)} in the {base}"
    impact = None
    if n_b < policy.min_requests:
        need = f"(need {policy.min_requests}) to predict traffic"
        d.add("INCONCLUSIVE", INCONCLUSIVE, f"the {base} had {fmt_count(n_b)} requests {need}")
    elif n_p < policy.traffic_vanished * n_b:
        d.add("R6", FAIL, f"traffic vanished: {said}")
        impact = f"~{(1 - n_p / n_b) * 100:.0f}% of expected requests missing"
    passed = d.passed("R6", said)
    return d.done(passed, baseline=fmt_count(n_b), now=fmt_count(n_p), impact=impact)


def _burn(window: WindowInputs | None, policy: VerdictPolicy) -> float | None:
    """Error ratio ÷ error budget, rounded to 9 places so that exact thresholds hold exactly
    (1 - 0.999 is not exact in binary)."""
    e, n = counts(window)
    return None if n == 0 else round(e / n / (1.0 - policy.slo), 9)


def _times(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1f}×"


def burn(inputs: CheckupInputs, policy: VerdictPolicy, checkpoint: timedelta) -> MetricResult:
    """R5 / Y6: multiwindow burn rates of the SLO's error budget (both windows ≥ threshold)."""
    d = Draft("burn", "error budget burn")
    if failed := query_errors(inputs, d, ("requests", "errors")):
        return failed
    n_p, pairs = counts(inputs.post)[1], burn_pairs(checkpoint)
    windows = {**inputs.burn, "P": inputs.post}
    names = dict.fromkeys(n for p in pairs for n in (p.long, p.short))
    rates = {name: _burn(windows.get(name), policy) for name in names}
    for pair in pairs:
        threshold: float = getattr(policy, f"burn_{pair.level}")
        long, short = rates[pair.long], rates[pair.short]
        if long is None or short is None or long < threshold or short < threshold:
            continue
        said = f"burn rate {long:.1f}× ({pair.long}) and {short:.1f}× ({pair.short})"
        said += f" ≥ {threshold:g}× of a {policy.slo:.1%} SLO"
        if pair.outcome == FAIL and n_p >= policy.min_requests:
            d.add("R5", FAIL, said)
        else:
            d.add("Y6", WARN, f"{said} ({fmt_count(n_p)} requests)")
    if not d.findings and n_p < policy.min_requests:
        need = f"(need {policy.min_requests}) to judge the burn rate"
        d.add("INCONCLUSIVE", INCONCLUSIVE, f"only {fmt_count(n_p)} requests since release {need}")
    shown = ", ".join(f"{name} {_times(rate)}" for name, rate in rates.items())
    passed = d.passed("R5", f"burn rate {shown}")
    return d.done(passed, baseline=_times(_burn(inputs.reference, policy)), now=shown)


def _failing(value: float | None) -> bool:
    """A health point fails below 1 (``min(up)``, ``probe_success``, readiness)."""
    return value is not None and not math.isnan(value) and value < 1.0


def health(inputs: CheckupInputs, policy: VerdictPolicy) -> MetricResult | None:
    """R4: failing at every point of S or ≥ 3 restarts in P; Y5: any failing point or restart."""
    post, points = inputs.post, inputs.sustain.health
    d = Draft("health", "health")
    if failed := query_errors(inputs, d, ("health", "restarts")):
        return failed
    if post.health is None and post.restarts is None and not points:
        return None  # switched off
    seen = [v for v in (*(post.health or ()), *points) if v is not None and not math.isnan(v)]
    bad = sum(1 for v in seen if _failing(v))
    restarts = None if post.restarts is None else max(0, round(post.restarts))
    now = f"{bad} of {len(seen)} points failing, {restarts or 0} restarts"
    if every(points, lambda v: v < 1.0):
        d.add("R4", FAIL, f"health failing at all {len(points)} points of the last 5 minutes")
    if restarts is not None and restarts >= policy.restarts_red:
        d.add("R4", FAIL, f"{restarts} container restarts since the release")
    if bad or restarts:
        d.add("Y5", WARN, f"health: {now} since the release")
    if not seen and restarts is None:
        d.add("INCONCLUSIVE", INCONCLUSIVE, "no health data since the release")
    impact = "health checks failing" if bad else f"{restarts} container restarts"
    return d.done(d.passed("R4", f"health: {now}"), baseline="—", now=now, impact=impact)
