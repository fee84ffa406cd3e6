"""The watch's short-window rules (``docs/verdict.md`` §3.6), pure and deterministic.

W1 a significant rise over the reference, W2 an absolute ceiling over the last minute at
consecutive evaluations, W3 a fast burn of the error budget, W4 health: each is red. A 5xx
ratio of 2 % or a slow p95 is yellow. Too little traffic with nothing fired is inconclusive,
never green. Each metric keeps only the findings of its worst outcome, as a checkup's do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bot.domain.checkup.evaluators import (
    ERROR,
    FAIL,
    INCONCLUSIVE,
    OUTCOME_RANK,
    WARN,
    Draft,
    Finding,
    MetricResult,
    Signal,
    counts,
    fmt_count,
    fmt_p,
    fmt_pct,
)
from bot.domain.checkup.metrics import WindowInputs
from bot.domain.checkup.stats import rise_p
from bot.domain.watch.inputs import Comparison, WatchInputs
from bot.domain.watch.policy import DEFAULT_WATCH_POLICY, WatchPolicy
from bot.domain.watch.verdict import WatchColor, WatchVerdict
from bot.domain.watch.windows import span

__all__ = ["judge", "over_ceiling"]

QUIET = frozenset({FAIL, WARN, ERROR})  # any of these means something fired


def judge(
    inputs: WatchInputs, *, policy: WatchPolicy = DEFAULT_WATCH_POLICY, previous_breaches: int = 0
) -> WatchVerdict:
    """One evaluation. ``previous_breaches``: consecutive evaluations just before this one
    that were over W2's ceiling (``WatchVerdict.ceiling_streak`` of the last one)."""
    streak = previous_breaches + 1 if over_ceiling(inputs, policy) else 0
    others = [
        _ceiling(inputs, policy, streak),
        _burn(inputs, policy),
        _latency(inputs, policy),
        _health(inputs, policy),
    ]
    judged = [r for r in others if r is not None]
    quiet = not any(r.outcome in QUIET for r in judged)
    results = [_error_ratio(inputs, policy, quiet=quiet), *judged]
    color = _color(results)
    worst = max(OUTCOME_RANK[r.outcome] for r in results)
    impact = next((r.impact for r in results if OUTCOME_RANK[r.outcome] == worst), None)
    return WatchVerdict(
        color=color,
        at=inputs.at,
        age=inputs.age,
        findings=tuple(f for r in results for f in r.findings),
        signals=tuple(r.signal for r in results),
        requests=counts(inputs.window)[1],
        comparison=inputs.comparison,
        ceiling_streak=streak,
        impact=None if color is WatchColor.GREEN else impact,
    )


def over_ceiling(inputs: WatchInputs, policy: WatchPolicy) -> bool:
    """The last minute's 5xx ratio above the ceiling, with enough requests in it."""
    if _refused(inputs, ("requests", "errors")):
        return False
    e, n = counts(inputs.last)
    return n >= policy.min_requests_ceiling and e / n > policy.ceiling


def _color(results: Sequence[MetricResult]) -> WatchColor:
    outcomes = {r.outcome for r in results}
    if FAIL in outcomes:
        return WatchColor.RED
    if WARN in outcomes or ERROR in outcomes:  # a refused query must not read as green
        return WatchColor.YELLOW
    return WatchColor.INCONCLUSIVE if INCONCLUSIVE in outcomes else WatchColor.GREEN


# -- helpers -----------------------------------------------------------------------------------


def _refused(inputs: WatchInputs, names: Iterable[str]) -> list[str]:
    return [f"{n}: {inputs.errors[n]}" for n in names if n in inputs.errors]


def _failed(inputs: WatchInputs, d: Draft, names: Iterable[str]) -> MetricResult | None:
    """ERROR when a query the metric needs was refused (after its retries)."""
    if not (failed := _refused(inputs, names)):
        return None
    finding = Finding("ERROR", d.metric, ERROR, "query failed: " + "; ".join(failed))
    return MetricResult(d.metric, (finding,), Signal(d.label, "—", "query failed", ERROR))


def _ratio(window: WindowInputs) -> float | None:
    e, n = counts(window)
    return e / n if n else None


def _where(inputs: WatchInputs, last: bool = False) -> str:
    """``in the last 2m 30s``, ``on the canary in the last 1m``."""
    w = inputs.windows.last if last else inputs.windows.window
    pods = "on the canary " if inputs.comparison is Comparison.STABLE else ""
    return f"{pods}in the last {span(w.duration)}"


def _reference(inputs: WatchInputs) -> str:
    return {
        Comparison.BASELINE: "baseline",
        Comparison.BASELINE7: "B7 baseline (a week earlier)",
        Comparison.STABLE: "stable",
    }[inputs.comparison]


# -- W1 and the yellow ratio -------------------------------------------------------------------


def _error_ratio(inputs: WatchInputs, policy: WatchPolicy, *, quiet: bool) -> MetricResult:
    """W1: Δ > 1 pp, significant at p < 0.001, N_W ≥ 200. Yellow: r_W ≥ 2 %. Inconclusive:
    N_W < 100 and nothing fired anywhere."""
    canary = inputs.comparison is Comparison.STABLE
    d = Draft("error_ratio", "canary 5xx ratio" if canary else "5xx ratio")
    if failed := _failed(inputs, d, ("requests", "errors")):
        return failed
    (e_w, n_w), (e_b, n_b) = counts(inputs.window), counts(inputs.reference)
    r_w, r_b = _ratio(inputs.window), _ratio(inputs.reference)
    said = f"5xx ratio {fmt_pct(r_w)} vs {_reference(inputs)} {fmt_pct(r_b)}"
    delta = None if r_w is None or r_b is None else round(r_w - r_b, 9)  # +1 pp is not above
    if n_w >= policy.min_requests_rise and delta is not None and delta > policy.delta_red:
        p = rise_p(e_w, n_w, e_b, n_b, fisher_below=policy.fisher_below)
        if p < policy.alpha:
            stats = f"{delta * 100:+.2f} pp, {fmt_p(p)}, {fmt_count(n_w)} requests"
            d.add("W1", FAIL, f"{said} {_where(inputs)} ({stats})")
    if r_w is not None and r_w >= policy.ratio_warn:
        warn = f"≥ {fmt_pct(policy.ratio_warn)} ({fmt_count(n_w)} requests)"
        d.add("WY1", WARN, f"5xx ratio {fmt_pct(r_w)} {_where(inputs)} {warn}")
    if quiet and not d.findings and n_w < policy.min_requests:
        need = f"(need {policy.min_requests})"
        d.add(
            "INCONCLUSIVE",
            INCONCLUSIVE,
            f"not enough traffic yet: {fmt_count(n_w)} requests {_where(inputs)} {need}",
        )
    passed = d.passed("W1", f"{said} {_where(inputs)} ({fmt_count(n_w)} requests)")
    impact = f"~{r_w * 100:.1f}% of requests failing" if r_w else None
    return d.done(passed, baseline=fmt_pct(r_b), now=fmt_pct(r_w), impact=impact)


# -- W2, W3 ------------------------------------------------------------------------------------


def _ceiling(inputs: WatchInputs, policy: WatchPolicy, streak: int) -> MetricResult:
    """W2: above 5 % over the last minute, ≥ 100 requests in it, at 2 evaluations in a row."""
    d = Draft("ceiling", f"5xx ratio, last {span(policy.last)}")
    if failed := _failed(inputs, d, ("requests", "errors")):
        return failed
    r, n = _ratio(inputs.last), counts(inputs.last)[1]
    said = f"5xx ratio {fmt_pct(r)} {_where(inputs, last=True)} ({fmt_count(n)} requests)"
    above = f"above {fmt_pct(policy.ceiling)} at {streak}"
    need = policy.ceiling_evaluations
    if streak >= need:
        d.add("W2", FAIL, f"{said}: {above} consecutive evaluations")
    passed = d.passed("W2", f"{said}: {above} of {need} evaluations" if streak else said)
    impact = f"~{r * 100:.1f}% of requests failing" if r else None
    return d.done(passed, baseline="—", now=fmt_pct(r), impact=impact)


def _rate(window: WindowInputs, policy: WatchPolicy) -> float | None:
    """Error ratio ÷ error budget, rounded to 9 places as the checkups' burn rule does."""
    r = _ratio(window)
    return None if r is None else round(r / (1.0 - policy.slo), 9)


def _times(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1f}×"


def _burn(inputs: WatchInputs, policy: WatchPolicy) -> MetricResult:
    """W3: the burn rate over W and over the last minute both ≥ 14.4, with N_W ≥ 100."""
    d = Draft("burn", "error budget burn")
    if failed := _failed(inputs, d, ("requests", "errors")):
        return failed
    long, short = _rate(inputs.window, policy), _rate(inputs.last, policy)
    names = span(inputs.windows.window.duration), span(inputs.windows.last.duration)
    shown = f"{_times(long)} (last {names[0]}) and {_times(short)} (last {names[1]})"
    n_w, fast = counts(inputs.window)[1], policy.burn_fast
    both = long is not None and short is not None and min(long, short) >= fast
    if both and n_w >= policy.min_requests_burn:
        d.add("W3", FAIL, f"burn rate {shown} ≥ {fast:g}× of a {policy.slo:.1%} SLO")
    passed = d.passed("W3", f"burn rate {shown}")
    baseline = _times(_rate(inputs.reference, policy))
    return d.done(passed, baseline=baseline, now=f"{_times(long)}, {_times(short)}")


# -- yellow p95, W4 ----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return "∞ ms" if math.isinf(seconds) else f"{seconds * 1000:,.0f} ms"


def _latency(inputs: WatchInputs, policy: WatchPolicy) -> MetricResult | None:
    """Yellow: p95 over the last minute above 500 ms, with ≥ 100 requests in it."""
    d = Draft("p95", f"p95 latency, last {span(policy.last)}")
    if failed := _failed(inputs, d, ("p95",)):
        return failed
    if inputs.p95 is None:
        return None  # switched off, or no traffic to measure
    n, limit = counts(inputs.last)[1], policy.p95_ms / 1000.0
    said = f"p95 {_ms(inputs.p95)} {_where(inputs, last=True)} ({fmt_count(n)} requests)"
    if inputs.p95 > limit and n >= policy.min_requests_p95:
        d.add("WY2", WARN, f"{said} above {_ms(limit)}")
    impact = f"p95 latency {_ms(inputs.p95)}"
    return d.done(d.passed("WY2", said), baseline="—", now=_ms(inputs.p95), impact=impact)


def _health(inputs: WatchInputs, policy: WatchPolicy) -> MetricResult | None:
    """W4: the health template below 1 (``up == 0``), a pod not ready, or ≥ 2 restarts."""
    d = Draft("health", "health")
    if failed := _failed(inputs, d, ("health", "ready", "restarts")):
        return failed
    health, ready = inputs.health, inputs.ready
    if health is None and ready is None and inputs.restarts is None:
        return None  # switched off, or no series: nothing to judge
    restarts = None if inputs.restarts is None else max(0, round(inputs.restarts))
    if health is not None and health < 1.0:
        d.add("W4", FAIL, f"health check failing now (health {health:g}: a target is down)")
    if ready is not None and ready < 1.0:
        d.add("W4", FAIL, f"a pod is not ready now (readiness {ready:g})")
    if restarts is not None and restarts >= policy.restarts_red:
        d.add("W4", FAIL, f"{restarts} container restarts since the release")
    shown = ", ".join(
        f"{name} {value:g}"
        for name, value in (("health", health), ("ready", ready), ("restarts", restarts))
        if value is not None
    )
    failing = any(v is not None and v < 1.0 for v in (health, ready))
    impact = "health checks failing" if failing else f"{restarts} container restarts"
    return d.done(d.passed("W4", f"health: {shown}"), baseline="—", now=shown, impact=impact)
