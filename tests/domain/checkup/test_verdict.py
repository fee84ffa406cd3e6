"""Verdicts (docs/verdict.md §3): every rule fires on one fixture and stays quiet just
under its threshold; aggregation, special cases, rollback eligibility, windows and queries."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.catalog import Catalog, service_queries
from bot.domain.checkup.metrics import (
    CheckupInputs,
    ServiceQueries,
    SustainInputs,
    WindowInputs,
    render,
    windows_for,
)
from bot.domain.checkup.stats import wilson_lower
from bot.domain.checkup.verdict import (
    Color,
    Finding,
    Verdict,
    VerdictPolicy,
    evaluate,
    unknown_verdict,
)

T15, T1H, T24H = timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24)
N = 66  # points per series window (≥ 50)
OFFSETS = [(i % 11) - 5 for i in range(N)]  # symmetric: the median is the centre exactly


def around(centre: float, spread: float = 0.01, n: int = N) -> tuple[float, ...]:
    return tuple(centre + spread * k for k in OFFSETS[:n])


def flat(value: float | None, n: int = 11) -> tuple[float | None, ...]:
    return (value,) * n


def window(requests: float = 5000, errors: float = 10, **series: object) -> WindowInputs:
    values: dict[str, object] = {
        "p95": around(0.2),
        "p99": around(0.4),
        "saturation": around(0.3),
        "health": flat(1.0, N),
        "restarts": 0.0,
    }
    values.update(series)
    return WindowInputs(requests=requests, errors=errors, **values)  # type: ignore[arg-type]


def sustain(requests: float = 2000, errors: float = 4, **points: object) -> SustainInputs:
    values: dict[str, object] = {
        "requests_points": flat(requests / 5),
        "errors_points": flat(errors / 5),
        "p95": flat(0.2),
        "saturation": flat(0.3),
        "health": flat(1.0),
    }
    values.update(points)
    return SustainInputs(requests=requests, errors=errors, **values)  # type: ignore[arg-type]


def healthy(**changes: object) -> CheckupInputs:
    """A quiet release: post and baseline alike, 0.2 % errors, nothing near a threshold."""
    inputs = CheckupInputs(
        post=window(),
        baseline=window(),
        baseline7=window(),
        sustain=sustain(),
        burn={"5m": WindowInputs(requests=2000, errors=4), "1h": WindowInputs(5000, 10)},
    )
    return replace(inputs, **changes)  # type: ignore[arg-type]


def lenient(**changes: object) -> VerdictPolicy:
    """A policy whose SLO does not burn at these error ratios, to isolate the ratio rules."""
    return replace(VerdictPolicy(slo=0.9), **changes)  # type: ignore[arg-type]


def judge(
    inputs: CheckupInputs, checkpoint: timedelta = T15, policy: VerdictPolicy | None = None
) -> Verdict:
    return evaluate(inputs, checkpoint=checkpoint, policy=policy or VerdictPolicy())


def of(verdict: Verdict, metric: str) -> list[Finding]:
    return [f for f in verdict.findings if f.metric == metric]


def rules(verdict: Verdict, metric: str) -> set[tuple[str, str]]:
    return {(f.rule, f.outcome) for f in of(verdict, metric)}


# -- identical samples, special cases --------------------------------------------------------


def test_identical_samples_pass_everything() -> None:
    verdict = judge(healthy())
    assert verdict.color is Color.GREEN
    assert {f.outcome for f in verdict.findings} == {"PASS"}
    assert [s.metric for s in verdict.signals] == [
        "5xx ratio",
        "requests",
        "p95 latency",
        "p99 latency",
        "saturation",
        "health",
        "error budget burn",
    ]
    assert verdict.score == 100.0
    assert not verdict.low_confidence
    assert verdict.fired_rules() == ()
    assert verdict.symptom() == "no regression detected"
    assert verdict.blast_radius() == "none detected"


def test_empty_post_with_busy_baseline_is_r6() -> None:
    empty = WindowInputs(requests=None, errors=None, p95=(), p99=(), saturation=(), health=())
    verdict = judge(healthy(post=empty, sustain=SustainInputs(), burn={}))
    assert verdict.color is Color.RED
    assert verdict.fired_rules() == ("R6",)
    assert verdict.blast_radius() == "~100% of expected requests missing"


def test_both_windows_empty_is_yellow() -> None:
    verdict = judge(CheckupInputs())
    assert verdict.color is Color.YELLOW
    assert rules(verdict, "error_ratio") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    empty = WindowInputs(p95=(), p99=(), saturation=(), health=(), kpi=())
    verdict = judge(CheckupInputs(post=empty, baseline=empty, baseline7=empty))
    assert verdict.color is Color.YELLOW
    assert all(f.outcome == "INCONCLUSIVE" for f in verdict.findings)
    assert verdict.score == 0.0


def test_nans_are_dropped() -> None:
    nan = math.nan
    with_nans = around(0.2) + (nan,) * 30
    verdict = judge(healthy(post=window(p95=with_nans, health=(1.0, nan) * 40)))
    assert verdict.color is Color.GREEN
    assert rules(verdict, "p95") == {("R3", "PASS")}
    assert "0 of 51 points failing" in of(verdict, "health")[0].detail
    mostly_nan = around(0.2, n=49) + (nan,) * 60
    verdict = judge(healthy(post=window(p95=mostly_nan)))
    assert rules(verdict, "p95") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    assert verdict.color is Color.YELLOW  # p95 is critical


def test_polluted_baseline_switches_to_b7() -> None:
    noisy_b = window(errors=400)  # another release in B: 8 % errors
    post = window(errors=300)  # 6 %
    s = sustain(errors=120)
    clean = judge(healthy(post=post, baseline=noisy_b, sustain=s), policy=lenient())
    assert "R1" not in clean.fired_rules()
    polluted = healthy(post=post, baseline=noisy_b, sustain=s, baseline_polluted=True)
    verdict = judge(polluted, policy=lenient())
    assert "R1" in verdict.fired_rules()
    assert "B7 baseline" in of(verdict, "error_ratio")[0].detail
    assert verdict.signals[0].baseline == "0.20%"


def test_low_traffic_is_never_green_by_default() -> None:
    quiet = window(requests=60, errors=0)
    verdict = judge(healthy(post=quiet, baseline=window(requests=70, errors=0)))
    assert verdict.color is Color.YELLOW
    assert rules(verdict, "error_ratio") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    assert verdict.low_confidence


def test_low_confidence_below_2000_requests_a_side() -> None:
    verdict = judge(healthy(post=window(requests=1500, errors=3)))
    assert verdict.color is Color.GREEN
    assert verdict.low_confidence


def test_prometheus_unreachable_is_unknown() -> None:
    verdict = unknown_verdict("Could not reach Prometheus at http://prom:9090")
    assert verdict.color is Color.UNKNOWN
    assert verdict.score is None and verdict.low_confidence
    assert verdict.fired_rules() == ()
    assert not verdict.rollback_eligible()
    assert (
        verdict.symptom() == "metrics unavailable: Could not reach Prometheus at http://prom:9090"
    )
    assert verdict.blast_radius() == "unknown (no metrics)"


def test_query_error_on_a_critical_metric_is_yellow() -> None:
    verdict = judge(healthy(errors={"p95": "bad_data: parse error (HTTP 400)"}))
    assert verdict.color is Color.YELLOW
    assert of(verdict, "p95") == [
        Finding(
            "ERROR",
            "p95",
            "ERROR",
            "query failed after 2 retries: p95: bad_data: parse error (HTTP 400)",
        )
    ]
    minor = judge(healthy(errors={"p99": "execution: too many samples"}))
    assert minor.color is Color.GREEN  # p99 is not critical
    assert rules(minor, "p99") == {("ERROR", "ERROR")}


def test_half_the_metrics_inconclusive_is_yellow() -> None:
    kpi_off = healthy(
        post=window(requests=500, errors=1, saturation=around(0.3, n=10)),
        baseline=window(requests=50, errors=0),
    )
    verdict = judge(kpi_off)
    inconclusive = {f.metric for f in verdict.findings if f.outcome == "INCONCLUSIVE"}
    assert inconclusive == {"traffic", "p99", "saturation"}  # 3 of 7
    assert verdict.color is Color.GREEN
    with_kpi = replace(
        kpi_off,
        post=replace(kpi_off.post, kpi=around(10)),
        baseline7=window(kpi=around(10), kpi_events=10),
        sustain=replace(kpi_off.sustain, kpi=flat(10)),
    )
    verdict = judge(with_kpi)
    assert {f.metric for f in verdict.findings if f.outcome == "INCONCLUSIVE"} == {
        "traffic",
        "p99",
        "saturation",
        "kpi",
    }  # 4 of 8
    assert verdict.color is Color.YELLOW
    assert verdict.score == 0.0


# -- error ratio: R1, Y2, R2 (+ Wilson), Y1 ----------------------------------------------------

BASE_ZERO = window(requests=1000, errors=0)


def r1_case(post_errors: int, s_errors: int) -> CheckupInputs:
    return healthy(
        post=window(requests=1000, errors=post_errors),
        baseline=BASE_ZERO,
        sustain=sustain(requests=500, errors=s_errors),
    )


def test_r1_fires_on_a_significant_sustained_rise_above_one_point() -> None:
    verdict = judge(r1_case(11, 6), policy=lenient())  # +1.1 pp, 1.2 % in S
    assert rules(verdict, "error_ratio") == {("R1", "FAIL")}
    assert of(verdict, "error_ratio")[0].detail == (
        "5xx ratio 1.10% vs baseline 0.00% (+1.10 pp, p<0.001, 1,000 requests); "
        "1.20% over the last 5 minutes"
    )
    assert verdict.color is Color.RED
    assert verdict.rollback_eligible()
    assert verdict.symptom().startswith("R1: 5xx ratio 1.10%")
    assert verdict.blast_radius() == "~1.1% of requests failing"


def test_r1_needs_strictly_more_than_one_point() -> None:
    verdict = judge(r1_case(10, 6), policy=lenient())  # exactly +1.00 pp
    assert rules(verdict, "error_ratio") == {("R1", "PASS")}


def test_r1_needs_100_requests() -> None:
    inputs = healthy(
        post=window(requests=99, errors=4),
        baseline=window(requests=10000, errors=0),
        sustain=sustain(requests=99, errors=4),
    )
    verdict = judge(inputs, policy=lenient())
    assert rules(verdict, "error_ratio") == {("Y1", "WARN")}  # 4.04 %, not R1


def test_y2_when_the_rise_is_not_sustained() -> None:
    verdict = judge(r1_case(11, 4), policy=lenient())  # 0.8 % in S < 0 + 1 pp
    assert rules(verdict, "error_ratio") == {("Y2", "WARN")}
    assert "not sustained: 0.80% over the last 5 minutes" in of(verdict, "error_ratio")[0].detail
    assert verdict.color is Color.YELLOW


def test_y2_needs_significance() -> None:
    inputs = healthy(
        post=window(requests=100, errors=3),
        baseline=window(requests=100, errors=0),  # Fisher: p ≈ 0.12
        sustain=sustain(requests=100, errors=3),
    )
    verdict = judge(inputs, policy=lenient(error_ratio_warn=0.5))
    assert rules(verdict, "error_ratio") == {("R1", "PASS")}


def r2_case(errors_per_point: float, requests_in_s: float = 1100) -> CheckupInputs:
    per_point = requests_in_s / 11
    return healthy(
        sustain=sustain(
            requests=requests_in_s,
            errors=errors_per_point * 11,
            requests_points=flat(per_point),
            errors_points=flat(errors_per_point * per_point / 100),
        )
    )


def test_r2_fires_above_five_percent_at_every_point() -> None:
    verdict = judge(r2_case(6))
    assert ("R2", "FAIL") in rules(verdict, "error_ratio")
    assert "R2" in verdict.fired_rules()


def test_r2_is_strict_and_needs_every_point_and_50_requests() -> None:
    assert rules(judge(r2_case(5)), "error_ratio") == {("R1", "PASS")}  # exactly 5 %
    assert rules(judge(r2_case(6, requests_in_s=49.5)), "error_ratio") == {("R1", "PASS")}
    gap = r2_case(6)
    one_missing = replace(
        gap.sustain, errors_points=(*gap.sustain.errors_points[:10], None)
    )  # counts as 0
    assert rules(judge(replace(gap, sustain=one_missing)), "error_ratio") == {("R1", "PASS")}
    missing_request_point = replace(
        gap.sustain, requests_points=(*gap.sustain.requests_points[:10], None)
    )
    assert rules(judge(replace(gap, sustain=missing_request_point)), "error_ratio") == {
        ("R1", "PASS")
    }


def low_traffic(errors: int, requests: int) -> CheckupInputs:
    return healthy(
        post=window(requests=requests, errors=errors),
        sustain=sustain(requests=requests, errors=errors, requests_points=flat(None)),
    )


def test_low_traffic_escape_fires_on_the_wilson_lower_bound() -> None:
    verdict = judge(low_traffic(10, 20))
    assert rules(verdict, "error_ratio") == {("R2", "FAIL")}
    assert "95% lower bound 29.93%" in of(verdict, "error_ratio")[0].detail
    assert rules(judge(low_traffic(3, 20)), "error_ratio") == {("R2", "FAIL")}  # bound 5.2 %


def test_low_traffic_escape_just_under() -> None:
    assert rules(judge(low_traffic(2, 20)), "error_ratio") == {("Y1", "WARN")}  # bound 2.8 %
    strict = VerdictPolicy(error_ratio_red=wilson_lower(3, 20))
    assert rules(judge(low_traffic(3, 20), policy=strict), "error_ratio") == {("Y1", "WARN")}


def test_y1_at_two_percent() -> None:
    inputs = healthy(post=window(requests=1000, errors=20), baseline=window(1000, 15))
    verdict = judge(inputs, policy=lenient())
    assert rules(verdict, "error_ratio") == {("Y1", "WARN")}
    assert of(verdict, "error_ratio")[0].detail == "5xx ratio 2.00% ≥ 2.00% (1,000 requests)"
    under = healthy(post=window(requests=1000, errors=19), baseline=window(1000, 15))
    assert rules(judge(under, policy=lenient()), "error_ratio") == {("R1", "PASS")}


# -- traffic: R6 -------------------------------------------------------------------------------


def test_r6_below_ten_percent_of_the_baseline() -> None:
    base = window(requests=1000, errors=0)
    fired = judge(healthy(post=window(requests=99, errors=0), baseline=base))
    assert rules(fired, "traffic") == {("R6", "FAIL")}
    assert fired.color is Color.RED
    at_ten = judge(healthy(post=window(requests=100, errors=0), baseline=base))
    assert rules(at_ten, "traffic") == {("R6", "PASS")}


def test_r6_needs_a_busy_baseline() -> None:
    verdict = judge(healthy(post=window(requests=0), baseline=window(requests=99, errors=0)))
    assert rules(verdict, "traffic") == {("INCONCLUSIVE", "INCONCLUSIVE")}


# -- p95: R3, Y3; p99: Y4 ----------------------------------------------------------------------


def p95_case(
    points: float, *, base: float = 0.2, post: float = 0.2, s_requests: float = 2000
) -> CheckupInputs:
    return healthy(
        post=window(p95=around(post)),
        baseline=window(p95=around(base)),
        sustain=sustain(requests=s_requests, p95=flat(points)),
    )


def test_r3_fires_above_500ms_at_every_point() -> None:
    verdict = judge(p95_case(0.501))
    assert rules(verdict, "p95") == {("R3", "FAIL")}
    assert verdict.color is Color.RED
    assert verdict.rollback_eligible()


def test_r3_just_under() -> None:
    assert rules(judge(p95_case(0.5)), "p95") == {("R3", "PASS")}  # strict
    assert rules(judge(p95_case(0.6, s_requests=99)), "p95") == {("R3", "PASS")}
    one_low = replace(p95_case(0.6).sustain, p95=(*flat(0.6, 10), 0.4))
    assert rules(judge(replace(p95_case(0.6), sustain=one_low)), "p95") == {("R3", "PASS")}


def test_r3_with_an_already_slow_baseline_needs_a_worse_ratio() -> None:
    slow = 0.6
    at_ratio = judge(p95_case(0.8, base=slow, post=slow * 1.2), policy=VerdictPolicy())
    assert rules(at_ratio, "p95") == {("R3", "FAIL")}
    barely = judge(p95_case(0.8, base=slow, post=0.7))  # 1.17×
    assert rules(barely, "p95") == {("Y3", "WARN")}
    assert "but the baseline was already 600 ms" in of(barely, "p95")[0].detail


def test_y3_worse_with_ratio_at_threshold() -> None:
    threshold = round(0.3 / 0.25, 9)
    inputs = p95_case(0.3, base=0.25, post=0.3)
    verdict = judge(inputs, policy=VerdictPolicy(p95_ratio=threshold))
    assert rules(verdict, "p95") == {("Y3", "WARN")}
    assert "p95 300 ms vs baseline 250 ms (1.20×, p<0.001)" in of(verdict, "p95")[0].detail
    under = judge(inputs, policy=VerdictPolicy(p95_ratio=math.nextafter(threshold, 2)))
    assert rules(under, "p95") == {("R3", "PASS")}


def test_y3_above_500ms_but_not_sustained() -> None:
    s = sustain(p95=(*flat(0.55, 10), 0.45))
    fired = healthy(post=window(p95=around(0.55)), baseline=window(p95=around(0.55)), sustain=s)
    assert rules(judge(fired), "p95") == {("Y3", "WARN")}
    at_limit = replace(fired, post=window(p95=around(0.5)), baseline=window(p95=around(0.5)))
    assert rules(judge(at_limit), "p95") == {("R3", "PASS")}


def test_p95_inconclusive_below_100_requests() -> None:
    verdict = judge(healthy(post=window(requests=99, errors=0)))
    assert rules(verdict, "p95") == {("INCONCLUSIVE", "INCONCLUSIVE")}


def test_y4_p99_worse_with_ratio_or_above_one_second() -> None:
    worse = judge(healthy(post=window(p99=around(0.6)), baseline=window(p99=around(0.4))))
    assert rules(worse, "p99") == {("Y4", "WARN")}  # 1.5×
    assert worse.color is Color.YELLOW
    under = judge(healthy(post=window(p99=around(0.59)), baseline=window(p99=around(0.4))))
    assert rules(under, "p99") == {("Y4", "PASS")}
    slow = judge(healthy(post=window(p99=around(1.01)), baseline=window(p99=around(1.01))))
    assert rules(slow, "p99") == {("Y4", "WARN")}
    at_limit = judge(healthy(post=window(p99=around(1.0)), baseline=window(p99=around(1.0))))
    assert rules(at_limit, "p99") == {("Y4", "PASS")}


def test_p99_inconclusive_below_1000_requests() -> None:
    verdict = judge(healthy(post=window(requests=999, errors=2)))
    assert rules(verdict, "p99") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    assert verdict.color is Color.GREEN  # 1 of 7, not critical


# -- saturation, KPI ---------------------------------------------------------------------------


def test_saturation_fail_at_95_percent_for_5_minutes() -> None:
    hot = healthy(
        post=window(saturation=around(0.96)),
        baseline=window(saturation=around(0.96)),
        sustain=sustain(saturation=flat(0.95)),
    )
    verdict = judge(hot)
    assert rules(verdict, "saturation") == {("SAT", "FAIL")}
    assert verdict.color is Color.RED
    assert verdict.fired_rules() == ("SAT",)
    assert not verdict.rollback_eligible()  # pages, never rolls back
    cooler = replace(hot, sustain=sustain(saturation=(*flat(0.95, 10), 0.9499)))
    assert rules(judge(cooler), "saturation") == {("SAT", "WARN")}


def test_saturation_warn_at_80_percent_or_worse_by_a_quarter() -> None:
    def case(post: float, base: float) -> set[tuple[str, str]]:
        inputs = healthy(
            post=window(saturation=around(post)), baseline=window(saturation=around(base))
        )
        return rules(judge(inputs), "saturation")

    assert case(0.8, 0.8) == {("SAT", "WARN")}
    assert case(0.79, 0.79) == {("SAT", "PASS")}
    assert case(0.5, 0.4) == {("SAT", "WARN")}  # 1.25×
    assert case(0.49, 0.4) == {("SAT", "PASS")}


def kpi_case(post: float, in_s: float, *, events: float = 600) -> CheckupInputs:
    return healthy(
        post=window(kpi=around(post)),
        baseline7=window(kpi=around(10.0), kpi_events=events),
        sustain=sustain(kpi=flat(in_s)),
    )


def test_kpi_fails_at_70_percent_in_p_and_s() -> None:
    verdict = judge(kpi_case(7.0, 7.0))
    assert rules(verdict, "kpi") == {("KPI", "FAIL")}
    assert verdict.color is Color.RED
    assert not verdict.rollback_eligible()
    assert rules(judge(kpi_case(7.0, 7.1)), "kpi") == {("KPI", "WARN")}  # S recovered a bit
    assert rules(judge(kpi_case(7.1, 7.0)), "kpi") == {("KPI", "WARN")}


def test_kpi_warns_when_worse_at_90_percent() -> None:
    assert rules(judge(kpi_case(9.0, 9.0)), "kpi") == {("KPI", "WARN")}
    assert rules(judge(kpi_case(9.1, 9.1)), "kpi") == {("KPI", "PASS")}


def test_kpi_needs_30_events_a_week_earlier_and_counts_nan_as_zero() -> None:
    assert rules(judge(kpi_case(7.0, 7.0, events=29)), "kpi") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    gone = healthy(
        post=window(kpi=(math.nan,) * N),
        baseline7=window(kpi=around(10.0), kpi_events=600),
        sustain=sustain(kpi=flat(None)),
    )
    assert rules(judge(gone), "kpi") == {("KPI", "FAIL")}


# -- health: R4, Y5 ----------------------------------------------------------------------------


def test_r4_failing_at_every_point_of_s() -> None:
    verdict = judge(healthy(sustain=sustain(health=flat(0.0))))
    assert rules(verdict, "health") == {("R4", "FAIL")}
    recovering = judge(healthy(sustain=sustain(health=(*flat(0.0, 10), 1.0))))
    assert rules(recovering, "health") == {("Y5", "WARN")}
    gap = judge(healthy(sustain=sustain(health=(*flat(0.0, 10), None))))
    assert rules(gap, "health") == {("Y5", "WARN")}  # a missing point does not count


def test_r4_on_three_restarts_and_y5_on_any() -> None:
    assert rules(judge(healthy(post=window(restarts=3.1))), "health") == {("R4", "FAIL")}
    assert rules(judge(healthy(post=window(restarts=2.0))), "health") == {("Y5", "WARN")}
    assert rules(judge(healthy(post=window(restarts=0.4))), "health") == {("R4", "PASS")}
    one_down = judge(healthy(post=window(health=(*flat(1.0, 60), 0.0))))
    assert rules(one_down, "health") == {("Y5", "WARN")}
    assert one_down.blast_radius() == "health checks failing"


def test_health_without_data_is_inconclusive() -> None:
    quiet = healthy(post=window(health=(), restarts=None), sustain=sustain(health=flat(None)))
    verdict = judge(quiet)
    assert rules(verdict, "health") == {("INCONCLUSIVE", "INCONCLUSIVE")}
    assert verdict.color is Color.YELLOW


# -- burn rate: R5, Y6 ---------------------------------------------------------------------------


def burn_case(
    p: int, five: int, *, requests: int = 5000, more: dict[str, WindowInputs] | None = None
) -> CheckupInputs:
    """Errors per 5,000 requests in P and per 1,000 in the 5m window (1 per mille = 1x burn)."""
    return healthy(
        post=window(requests=requests, errors=p * requests / 5000),
        burn={"5m": WindowInputs(requests=1000, errors=five), **(more or {})},
    )


def test_r5_at_15m_needs_both_windows_at_14_4() -> None:
    verdict = judge(burn_case(72, 15))  # 14.4× and 15×
    assert rules(verdict, "burn") == {("R5", "FAIL")}
    assert of(verdict, "burn")[0].detail == (
        "burn rate 14.4× (P) and 15.0× (5m) ≥ 14.4× of a 99.9% SLO"
    )
    assert rules(judge(burn_case(72, 14)), "burn") == {("Y6", "WARN")}  # 5m at 14×


def test_r5_needs_100_requests() -> None:
    verdict = judge(burn_case(72, 15, requests=99))
    assert rules(verdict, "burn") == {("Y6", "WARN")}


def test_y6_at_six() -> None:
    assert rules(judge(burn_case(30, 6)), "burn") == {("Y6", "WARN")}
    assert rules(judge(burn_case(30, 5)), "burn") == {("R5", "PASS")}


def test_burn_at_1h_uses_the_1h_window() -> None:
    hot_1h = WindowInputs(requests=10000, errors=144)
    assert rules(judge(burn_case(0, 15, more={"1h": hot_1h}), T1H), "burn") == {("R5", "FAIL")}
    cool_1h = WindowInputs(requests=10000, errors=143)
    assert rules(judge(burn_case(100, 15, more={"1h": cool_1h}), T1H), "burn") == {("Y6", "WARN")}


def test_24h_slow_burn_pages_but_does_not_roll_back() -> None:
    day = {
        "1h": WindowInputs(requests=10000, errors=10),
        "6h": WindowInputs(requests=60000, errors=360),  # 6×
        "30m": WindowInputs(requests=5000, errors=30),  # 6×
        "24h": WindowInputs(requests=240000, errors=240),
        "2h": WindowInputs(requests=20000, errors=20),
    }
    verdict = judge(burn_case(5, 1, more=day), T24H)
    assert rules(verdict, "burn") == {("R5", "FAIL")}
    assert verdict.color is Color.RED
    assert not verdict.rollback_eligible()
    ticket = {**day, "6h": WindowInputs(60000, 60), "24h": WindowInputs(240000, 720)}
    ticket["2h"] = WindowInputs(requests=20000, errors=60)
    assert rules(judge(burn_case(5, 1, more=ticket), T24H), "burn") == {("Y6", "WARN")}


# -- rollback eligibility -----------------------------------------------------------------------


def test_rollback_eligibility() -> None:
    red = judge(r1_case(11, 6), policy=lenient())
    assert red.rollback_eligible({"R1"})
    assert not red.rollback_eligible({"R4"})
    assert not red.rollback_eligible(newest=False)  # a newer release blocks rollback
    assert not red.rollback_eligible(opted_out=True)
    assert not red.rollback_eligible(dry_run_metrics={"error_ratio"})
    late = evaluate(r1_case(11, 6), checkpoint=T24H, policy=lenient())
    assert late.color is Color.RED and not late.rollback_eligible()
    yellow = judge(r1_case(11, 4), policy=lenient())
    assert not yellow.rollback_eligible()


# -- windows and queries -------------------------------------------------------------------------

R = datetime(2023, 11, 14, 23, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("checkpoint", "step_s", "points"),
    [(T15, 15, 53), (timedelta(minutes=30), 30, 57), (T1H, 60, 59), (T24H, 1440, 60)],
)
def test_windows(checkpoint: timedelta, step_s: int, points: int) -> None:
    w = windows_for(R, checkpoint)
    assert w.post.start == R + timedelta(minutes=2)
    assert w.post.end == R + checkpoint
    assert w.baseline.end == R and w.baseline.duration == w.post.duration
    assert w.baseline7.start == w.post.start - timedelta(days=7)
    assert w.step == timedelta(seconds=step_s)
    assert int(w.post.duration / w.step) + 1 == points >= 50
    assert len(w.sustain_points) == 11
    assert w.sustain_points[-1] == w.post.end == w.sustain.end
    assert w.sustain_points[1] - w.sustain_points[0] == timedelta(seconds=30)


def test_burn_windows_are_clipped_at_release_end() -> None:
    assert [x.name for x in windows_for(R, T15).burn] == ["P", "5m"]
    hour = windows_for(R, T1H)
    assert hour.burn_window("1h").start == R
    day = windows_for(R, T24H)
    assert [x.name for x in day.burn] == ["1h", "5m", "6h", "30m", "24h", "2h"]
    assert day.burn_window("24h").start == R
    assert day.burn_window("6h").end - day.burn_window("6h").start == timedelta(hours=6)


def test_windows_align_to_the_grid() -> None:
    odd = R + timedelta(seconds=7, microseconds=5)
    w = windows_for(odd, T15)
    assert w.release_end == R == w.baseline.end
    assert w.post.start == R + timedelta(minutes=2, seconds=15)
    assert w.post.end == R + T15
    assert w.post.range == "765s"
    with pytest.raises(ValueError, match="timezone-aware"):
        windows_for(R.replace(tzinfo=None), T15)
    with pytest.raises(ValueError, match="5 minutes"):
        windows_for(R, timedelta(minutes=6))


def test_query_templates() -> None:
    q = ServiceQueries()
    assert render(q.requests, service="pay", env="prod", window="780s") == (
        'sum(increase(http_requests_total{service="pay",env="prod"}[780s]))'
    )
    assert render(q.errors, service="pay", env="prod", window="5m") == (
        'sum(increase(http_requests_total{service="pay",env="prod",code=~"5.."}[5m]))'
    )
    assert (
        render(q.health or "", service='a"b', env="prod") == 'min(up{service="a\\"b",env="prod"})'
    )
    assert "kpi" not in q.templates() and "p95" in q.templates()
    with pytest.raises(ValueError, match="window"):
        ServiceQueries(requests="sum(http_requests_total)")


def test_catalog_query_overrides() -> None:
    catalog = Catalog.model_validate(
        {
            "services": {
                "pay": {
                    "queries": {
                        "kpi": 'sum(increase(orders_total{service="{service}"}[{window}]))',
                        "saturation": None,
                    }
                },
                "web": {},
            }
        }
    )
    pay = service_queries(catalog, "pay")
    assert pay.kpi is not None and pay.kpi.startswith("sum(increase(orders_total")
    assert pay.saturation is None
    assert pay.requests == ServiceQueries().requests
    assert service_queries(catalog, "web") == ServiceQueries()
    assert service_queries(catalog, "unknown") == ServiceQueries()
    for bad in ({"latency": "x"}, {"requests": None}, {"errors": "sum(x)"}):
        with pytest.raises(ValidationError):
            Catalog.model_validate({"services": {"pay": {"queries": bad}}})


def test_more_errors_than_requests_is_an_error_not_a_red_that_pages() -> None:
    # the errors query counts something else (say, every retry of a request): 100 %+ "failing"
    mismatched = judge(healthy(post=window(requests=5000, errors=9000)))
    assert mismatched.color is not Color.RED and not mismatched.rollback_eligible()
    assert rules(mismatched, "error_ratio") == {("ERROR", "ERROR")}
    [finding] = of(mismatched, "error_ratio")
    assert "9,000 errors of 5,000 requests since the release" in finding.detail
    assert "check the service's queries" in finding.detail

    everything_failing = judge(
        healthy(post=window(requests=5000, errors=5020), sustain=sustain(errors=2000))
    )
    assert everything_failing.color is Color.RED  # within the counters' extrapolation
