"""The early watch's rules (docs/verdict.md §3.6): each fires on one fixture and stays quiet
just under each of its thresholds; inconclusive, refused queries, canary against stable."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.checkup.stats import rise_p
from bot.domain.checkup.verdict import Color
from bot.domain.watch.inputs import Comparison
from bot.domain.watch.policy import WatchPolicy
from bot.domain.watch.rules import judge, over_ceiling
from bot.domain.watch.verdict import WatchColor, WatchVerdict, unknown_watch_verdict
from tests.domain.watch.builders import at, inputs


def rules(verdict: WatchVerdict) -> set[tuple[str, str]]:
    """(rule, outcome) of every finding that is not a PASS."""
    return {(f.rule, f.outcome) for f in verdict.findings if f.outcome != "PASS"}


def detail(verdict: WatchVerdict, rule: str) -> str:
    return next(f.detail for f in verdict.findings if f.rule == rule and f.outcome != "PASS")


def test_a_quiet_release_is_green_with_every_signal() -> None:
    verdict = judge(inputs())
    assert verdict.color is WatchColor.GREEN
    assert rules(verdict) == set()
    assert [(s.metric, s.baseline, s.now, s.outcome) for s in verdict.signals] == [
        ("5xx ratio", "0.20%", "0.20%", "PASS"),
        ("5xx ratio, last 1m", "—", "0.25%", "PASS"),
        ("error budget burn", "2.0×", "2.0×, 2.5×", "PASS"),
        ("p95 latency, last 1m", "—", "200 ms", "PASS"),
        ("health", "—", "health 1, ready 1, restarts 0", "PASS"),
    ]
    assert (verdict.requests, verdict.ceiling_streak, verdict.impact) == (1000, 0, None)
    assert verdict.reason() == "no regression in the release's first minutes"
    assert (verdict.at, verdict.age) == (at(120), at(120) - at(0))


# -- W1: a significant rise --------------------------------------------------------------------


def test_w1_fires_on_a_significant_rise_of_more_than_one_point() -> None:
    verdict = judge(inputs(window=(1000, 21), reference=(1000, 5)))
    assert verdict.color is WatchColor.RED
    assert verdict.fired_rules() == ("W1",)
    p = rise_p(21, 1000, 5, 1000)
    assert 0.0005 < p < 0.001
    assert detail(verdict, "W1") == (
        "5xx ratio 2.10% vs baseline 0.50% in the last 2m (+1.60 pp, p<0.001, 1,000 requests)"
    )
    assert verdict.impact == "~2.1% of requests failing"


def test_w1_stays_quiet_just_under_its_significance() -> None:
    assert 0.001 < rise_p(20, 1000, 5, 1000) < 0.0015
    verdict = judge(inputs(window=(1000, 20), reference=(1000, 5)))
    assert verdict.fired_rules() == ()
    assert rules(verdict) == {("WY1", "WARN")}  # 2 % is still yellow


@pytest.mark.parametrize(("errors", "fires"), [(121, True), (120, False)])
def test_w1_needs_a_rise_above_one_percentage_point(errors: int, fires: bool) -> None:
    # 10,000 requests a side: +1 pp is far beyond p < 0.001, so only Δ decides
    assert rise_p(120, 10_000, 20, 10_000) < 1e-9
    verdict = judge(inputs(window=(10_000, errors), reference=(10_000, 20)))
    assert verdict.fired_rules() == (("W1",) if fires else ())
    assert verdict.color is (WatchColor.RED if fires else WatchColor.GREEN)


@pytest.mark.parametrize(("requests", "fires"), [(200, True), (199, False)])
def test_w1_needs_200_requests_in_w(requests: int, fires: bool) -> None:
    verdict = judge(inputs(window=(requests, 20), reference=(1000, 2)))
    assert ("W1" in verdict.fired_rules()) is fires
    assert ("WY1", "WARN") in rules(verdict) or fires  # 10 % is yellow when W1 cannot say


def test_w1_without_baseline_traffic_cannot_fire() -> None:
    verdict = judge(inputs(window=(1000, 50), reference=(0, 0)))
    assert "W1" not in verdict.fired_rules()
    assert verdict.signals[0].baseline == "—"


def test_w1_against_the_week_earlier_baseline_names_it() -> None:
    verdict = judge(inputs(window=(1000, 21), reference=(1000, 5), comparison=Comparison.BASELINE7))
    assert verdict.comparison is Comparison.BASELINE7
    assert detail(verdict, "W1").startswith("5xx ratio 2.10% vs B7 baseline (a week earlier) 0.50%")


# -- W2: an absolute ceiling at two evaluations in a row --------------------------------------

BREACH = inputs(window=(1000, 8), last=(100, 6))  # 6 % of 100 in the last minute


def test_w2_fires_at_the_second_evaluation_over_the_ceiling() -> None:
    first = judge(BREACH)
    assert first.ceiling_streak == 1
    assert first.color is WatchColor.GREEN and first.fired_rules() == ()
    pending = next(f for f in first.findings if f.rule == "W2")
    assert pending.detail == (
        "5xx ratio 6.00% in the last 1m (100 requests): above 5.00% at 1 of 2 evaluations"
    )
    second = judge(BREACH, previous_breaches=first.ceiling_streak)
    assert second.ceiling_streak == 2
    assert second.color is WatchColor.RED
    assert second.fired_rules() == ("W2",)
    assert detail(second, "W2") == (
        "5xx ratio 6.00% in the last 1m (100 requests): above 5.00% at 2 consecutive evaluations"
    )


@pytest.mark.parametrize("last", [(100, 5), (99, 6)], ids=["ratio of 5%", "99 requests"])
def test_w2_stays_quiet_just_under_the_ceiling(last: tuple[int, int]) -> None:
    quiet = inputs(window=(1000, 8), last=last)
    assert not over_ceiling(quiet, WatchPolicy())
    verdict = judge(quiet, previous_breaches=5)
    assert verdict.ceiling_streak == 0
    assert verdict.fired_rules() == ()


def test_w2_streak_breaks_on_a_quiet_evaluation() -> None:
    quiet = judge(inputs(), previous_breaches=1)
    assert quiet.ceiling_streak == 0
    assert judge(BREACH, previous_breaches=quiet.ceiling_streak).fired_rules() == ()


# -- W3: fast burn -----------------------------------------------------------------------------


def test_w3_fires_when_both_windows_burn_at_14_4() -> None:
    verdict = judge(inputs(window=(10_000, 144), reference=(10_000, 80), last=(1000, 15)))
    assert verdict.fired_rules() == ("W3",)
    assert detail(verdict, "W3") == (
        "burn rate 14.4× (last 2m) and 15.0× (last 1m) ≥ 14.4× of a 99.9% SLO"
    )
    assert verdict.color is WatchColor.RED


@pytest.mark.parametrize(
    ("window", "last"),
    [((10_000, 143), (1000, 15)), ((10_000, 144), (1000, 14))],
    ids=["W at 14.3", "last minute at 14"],
)
def test_w3_stays_quiet_when_one_window_is_under(
    window: tuple[int, int], last: tuple[int, int]
) -> None:
    verdict = judge(inputs(window=window, reference=(10_000, 80), last=last))
    assert verdict.fired_rules() == ()
    assert verdict.color is WatchColor.GREEN


@pytest.mark.parametrize(("requests", "fires"), [(100, True), (99, False)])
def test_w3_needs_100_requests_in_w(requests: int, fires: bool) -> None:
    verdict = judge(inputs(window=(requests, 2), reference=(1000, 2), last=(50, 1)))
    assert ("W3" in verdict.fired_rules()) is fires
    assert ("WY1", "WARN") in rules(verdict)  # 2 % either way


def test_w3_uses_the_policys_slo() -> None:
    burning = inputs(window=(10_000, 150), reference=(10_000, 80), last=(1000, 15))
    assert judge(burning).fired_rules() == ("W3",)
    lenient = WatchPolicy(slo=0.99)  # 1.5 % burns at 1.5×
    assert judge(burning, policy=lenient).fired_rules() == ()


# -- W4: health --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"health": 0.0}, "health check failing now (health 0: a target is down)"),
        ({"ready": 0.0}, "a pod is not ready now (readiness 0)"),
        ({"restarts": 2.0}, "2 container restarts since the release"),
    ],
)
def test_w4_fires_on_health(change: dict[str, float], said: str) -> None:
    verdict = judge(inputs(**change))  # type: ignore[arg-type]
    assert verdict.fired_rules() == ("W4",)
    assert detail(verdict, "W4") == said
    assert verdict.color is WatchColor.RED


@pytest.mark.parametrize("change", [{"health": 1.0}, {"ready": 1.0}, {"restarts": 1.0}])
def test_w4_stays_quiet_just_under(change: dict[str, float]) -> None:
    verdict = judge(inputs(**change))  # type: ignore[arg-type]
    assert verdict.color is WatchColor.GREEN


def test_w4_fires_even_without_traffic() -> None:
    verdict = judge(inputs(window=(0, 0), reference=(0, 0), last=(0, 0), p95=None, health=0.0))
    assert verdict.color is WatchColor.RED
    assert verdict.fired_rules() == ("W4",)


def test_health_without_any_series_is_not_judged() -> None:
    verdict = judge(inputs(health=None, ready=None, restarts=None))
    assert "health" not in [s.metric for s in verdict.signals]
    assert verdict.color is WatchColor.GREEN


# -- yellow --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("errors", "color"), [(200, "yellow"), (199, "green")])
def test_a_ratio_of_2_percent_is_yellow(errors: int, color: str) -> None:
    verdict = judge(inputs(window=(10_000, errors), reference=(10_000, 150)))
    assert verdict.color is WatchColor(color)
    if color == "yellow":
        assert rules(verdict) == {("WY1", "WARN")}
        assert detail(verdict, "WY1") == "5xx ratio 2.00% in the last 2m ≥ 2.00% (10,000 requests)"


@pytest.mark.parametrize(
    ("p95", "last", "color"),
    [(0.501, (100, 0), "yellow"), (0.5, (100, 0), "green"), (0.9, (99, 0), "green")],
    ids=["501 ms", "500 ms", "99 requests"],
)
def test_a_slow_p95_over_the_last_minute_is_yellow(
    p95: float, last: tuple[int, int], color: str
) -> None:
    verdict = judge(inputs(p95=p95, last=last))
    assert verdict.color is WatchColor(color)
    if color == "yellow":
        assert detail(verdict, "WY2") == "p95 501 ms in the last 1m (100 requests) above 500 ms"


def test_p95_without_traffic_is_not_judged() -> None:
    verdict = judge(inputs(p95=None))
    assert "p95 latency, last 1m" not in [s.metric for s in verdict.signals]


# -- inconclusive, refused queries, unknown ------------------------------------------------------


def test_fewer_than_100_requests_is_inconclusive_never_green() -> None:
    verdict = judge(inputs(age=30, window=(99, 0), reference=(99, 0), last=(60, 0)))
    assert verdict.color is WatchColor.INCONCLUSIVE
    assert verdict.reason() == "not enough traffic yet: 99 requests in the last 30s (need 100)"
    assert verdict.as_verdict().color is Color.YELLOW
    assert judge(inputs(window=(100, 0), reference=(100, 0))).color is WatchColor.GREEN


def test_no_traffic_at_all_is_inconclusive() -> None:
    verdict = judge(inputs(window=(0, 0), reference=(0, 0), last=(0, 0), p95=None))
    assert verdict.color is WatchColor.INCONCLUSIVE
    assert rules(verdict) == {("INCONCLUSIVE", "INCONCLUSIVE")}


def test_a_refused_query_is_yellow_with_the_reason() -> None:
    refused = {"errors": "bad_data: parse error (HTTP 400)"}
    verdict = judge(inputs(window=(50, 0), errors=refused))
    assert verdict.color is WatchColor.YELLOW
    assert rules(verdict) == {("ERROR", "ERROR")}
    assert detail(verdict, "ERROR") == "query failed: errors: bad_data: parse error (HTTP 400)"
    assert judge(inputs(errors={"ready": "execution: boom"})).color is WatchColor.YELLOW


def test_unreachable_prometheus_is_unknown_with_the_reason() -> None:
    verdict = unknown_watch_verdict("Could not reach Prometheus", at=at(30), age=at(30) - at(0))
    assert verdict.color is WatchColor.UNKNOWN
    assert verdict.reason() == "Could not reach Prometheus"
    assert verdict.as_verdict().color is Color.UNKNOWN
    assert not verdict.as_verdict().rollback_eligible(WatchPolicy().auto_rollback_rules)


def test_a_red_watch_verdict_is_eligible_for_the_rollback_policy() -> None:
    verdict = judge(inputs(window=(1000, 21), reference=(1000, 5))).as_verdict()
    assert verdict.checkpoint == at(120) - at(0)
    assert verdict.rollback_eligible(WatchPolicy().auto_rollback_rules)
    assert not verdict.rollback_eligible()  # the checkups' R-rules are not the watch's
    assert verdict.symptom().startswith("W1: 5xx ratio 2.10% vs baseline 0.50%")


# -- canary against stable ---------------------------------------------------------------------


def test_the_canary_is_judged_against_the_stable_pods_by_the_same_rules() -> None:
    canary = inputs(
        window=(500, 40), reference=(1500, 3), last=(100, 8), comparison=Comparison.STABLE
    )
    first = judge(canary)
    assert first.comparison is Comparison.STABLE
    assert first.fired_rules() == ("W1", "W3")
    assert first.signals[0].metric == "canary 5xx ratio"
    assert detail(first, "W1") == (
        "5xx ratio 8.00% vs stable 0.20% on the canary in the last 2m "
        "(+7.80 pp, p<0.001, 500 requests)"
    )
    second = judge(canary, previous_breaches=first.ceiling_streak)
    assert second.fired_rules() == ("W1", "W2", "W3")
    assert detail(second, "W2").startswith("5xx ratio 8.00% on the canary in the last 1m")
    healthy = replace(canary, window=replace(canary.window, errors=1))
    healthy = replace(healthy, last=replace(canary.last, errors=0))
    assert judge(healthy).color is WatchColor.GREEN


# -- properties ----------------------------------------------------------------------------------

counts = st.integers(0, 5000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@given(window=counts, reference=counts, last=counts, health=st.sampled_from([0.0, 1.0, None]))
@settings(max_examples=300, deadline=None)
def test_green_only_with_enough_traffic_and_nothing_fired(
    window: tuple[int, int],
    reference: tuple[int, int],
    last: tuple[int, int],
    health: float | None,
) -> None:
    verdict = judge(inputs(window=window, reference=reference, last=last, health=health))
    if verdict.color is WatchColor.GREEN:
        assert window[0] >= WatchPolicy().min_requests
        assert rules(verdict) == set()
    assert (verdict.color is WatchColor.RED) == bool(verdict.fired_rules())
    if window[0] < WatchPolicy().min_requests:
        assert verdict.color is not WatchColor.GREEN
