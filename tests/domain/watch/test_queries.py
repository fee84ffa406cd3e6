"""The watch's windows on the 15 s grid, its policy, and the PromQL plan: which template is
asked at which time, and how a canary is split from its stable pods."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.checkup.metrics import ServiceQueries
from bot.domain.watch.inputs import Comparison
from bot.domain.watch.policy import WatchPolicy
from bot.domain.watch.queries import (
    CanaryScope,
    WatchPlan,
    WatchQueries,
    WatchQuery,
    scoped,
)
from bot.domain.watch.windows import first_evaluation, watch_windows

R = datetime(2023, 11, 14, 23, 15, 7, tzinfo=UTC)  # off the grid
R0, R1 = R.replace(second=0), R.replace(second=15)  # the grid points around it
CANARY = CanaryScope(canary="6b8f7d", stable="5c9a1e")


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


# -- windows -------------------------------------------------------------------------------------


def test_w_starts_at_r_rounded_up_and_b_ends_at_r_rounded_down() -> None:
    w = watch_windows(R, R1 + seconds(97))  # evaluated at R1 + 90 s
    assert w.at == R1 + seconds(90)
    assert (w.window.start, w.window.end, w.window.range) == (R1, w.at, "90s")
    assert (w.reference.name, w.reference.start, w.reference.end) == ("B", R0 - seconds(90), R0)
    assert (w.last.name, w.last.start, w.last.range) == ("1m", w.at - seconds(60), "60s")
    assert (w.since_release.start, w.since_release.range) == (R1, "90s")
    assert w.age == w.at - R
    assert not w.baseline_polluted


def test_early_windows_are_clipped_to_r_and_later_ones_to_five_minutes() -> None:
    early = watch_windows(R, R1 + seconds(30))
    assert early.last.start == R1 and early.last.range == "30s"
    late = watch_windows(R, R1 + timedelta(minutes=12))
    assert late.window.range == "300s"
    assert late.reference.range == "300s" and late.reference.end == R0
    assert late.since_release.range == "720s"


def test_a_polluted_baseline_is_w_a_week_earlier() -> None:
    w = watch_windows(R, R1 + seconds(120), baseline_polluted=True)
    week = timedelta(days=7)
    assert w.reference.name == "B7"
    assert (w.reference.start, w.reference.end) == (R1 - week, R1 + seconds(120) - week)


def test_too_early_or_naive_times_are_refused() -> None:
    assert first_evaluation(R) == R1 + seconds(15)
    watch_windows(R, first_evaluation(R))
    with pytest.raises(ValueError, match="too early to judge"):
        watch_windows(R, R1 + seconds(14))
    with pytest.raises(ValueError, match="timezone-aware"):
        watch_windows(R.replace(tzinfo=None), R1 + seconds(60))


def test_the_policy_refuses_windows_off_the_grid() -> None:
    with pytest.raises(ValueError, match="multiple of 15 s"):
        WatchPolicy(last=seconds(50))
    with pytest.raises(ValueError, match="longer than W"):
        WatchPolicy(window=seconds(30))
    with pytest.raises(ValueError, match="at least one evaluation"):
        WatchPolicy(hold=0)
    assert watch_windows(R, R1 + seconds(90), policy=WatchPolicy(last=seconds(30))).last.name == (
        "30s"
    )


# -- the plan ------------------------------------------------------------------------------------

WINDOWS = watch_windows(R, R1 + seconds(90))


def asked(queries: tuple[WatchQuery, ...]) -> dict[str, tuple[str, datetime, str]]:
    return {q.key: (q.expr, q.at, q.combine) for q in queries}


def test_the_baseline_plan_asks_every_count_at_its_windows_end() -> None:
    plan = WatchPlan(WatchQueries(), 'web"app', "prod", WINDOWS)
    assert plan.probe() == ()
    assert plan.comparison({}) is Comparison.BASELINE
    at, labels = WINDOWS.at, 'service="web\\"app",env="prod"'

    def requests(window: str) -> str:
        return f"sum(increase(http_requests_total{{{labels}}}[{window}]))"

    def errors(window: str) -> str:
        return f'sum(increase(http_requests_total{{{labels},code=~"5.."}}[{window}]))'

    assert asked(plan.rest(Comparison.BASELINE)) == {
        "W.requests": (requests("90s"), at, "sum"),
        "W.errors": (errors("90s"), at, "sum"),
        "ref.requests": (requests("90s"), R0, "sum"),
        "ref.errors": (errors("90s"), R0, "sum"),
        "last.requests": (requests("60s"), at, "sum"),
        "last.errors": (errors("60s"), at, "sum"),
        "p95": (
            "histogram_quantile(0.95, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{labels}}}[1m])))",
            at,
            "max",
        ),
        "health": (f"min(up{{{labels}}})", at, "min"),
        "ready": (f'min(kube_pod_status_ready{{{labels},condition="true"}})', at, "min"),
        "restarts": (
            f"sum(increase(kube_pod_container_status_restarts_total{{{labels}}}[90s]))",
            at,
            "sum",
        ),
    }


def test_a_canary_is_probed_then_split_by_its_pod_template_hash() -> None:
    plan = WatchPlan(WatchQueries(), "webapp", "prod", WINDOWS, CANARY)
    probe = asked(plan.probe())
    assert set(probe) == {"W.requests", "ref.requests"}
    assert 'rollouts_pod_template_hash="6b8f7d"' in probe["W.requests"][0]
    assert 'rollouts_pod_template_hash="5c9a1e"' in probe["ref.requests"][0]
    assert plan.comparison({"W.requests": None, "ref.requests": 750.0}) is Comparison.STABLE
    assert plan.comparison({"W.requests": 250.0, "ref.requests": None}) is Comparison.BASELINE
    rest = asked(plan.rest(Comparison.STABLE))
    assert set(rest) == {
        "W.errors",
        "ref.errors",
        "last.requests",
        "last.errors",
        "p95",
        "health",
        "ready",
        "restarts",
    }
    hashes = {key: ("6b8f7d" in e, "5c9a1e" in e) for key, (e, _, _) in rest.items()}
    assert hashes == {
        "W.errors": (True, False),
        "ref.errors": (False, True),  # the stable pods over W, asked at W's end
        "last.requests": (True, False),
        "last.errors": (True, False),
        "p95": (True, False),
        "health": (False, False),  # health is the service's, not the canary's
        "ready": (False, False),
        "restarts": (False, False),
    }
    assert {at for _, at, _ in rest.values()} == {WINDOWS.at}
    fallback = asked(plan.rest(Comparison.BASELINE))
    assert "rollouts_pod_template_hash" not in " ".join(e for e, _, _ in fallback.values())


def test_a_configured_label_and_unsplittable_templates() -> None:
    queries = WatchQueries(canary_label="pod_template_hash")
    plan = WatchPlan(queries, "webapp", "prod", WINDOWS, CANARY)
    assert 'pod_template_hash="6b8f7d"' in plan.probe()[0].expr
    custom = ServiceQueries(requests='sum(increase(hits{app="{service}"}[{window}]))')
    plan = WatchPlan(WatchQueries(checkup=custom), "webapp", "prod", WINDOWS, CANARY)
    assert plan.probe() == ()
    assert plan.comparison({"ref.requests": 1.0}) is Comparison.BASELINE
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        WatchQueries(canary_label="rollouts-pod-template-hash")


def test_scoped_adds_the_matcher_beside_every_env() -> None:
    template = 'a{env="{env}"} / b{service="{service}",env="{env}"}'
    assert scoped(template, label="h", value='x"y') == (
        'a{env="{env}",h="x\\"y"} / b{service="{service}",env="{env}",h="x\\"y"}'
    )
    assert scoped("up", label="h", value="x") is None


def test_switched_off_templates_are_not_asked() -> None:
    off = ServiceQueries(p95=None, health=None, restarts=None)
    plan = WatchPlan(WatchQueries(checkup=off, ready=None), "webapp", "prod", WINDOWS)
    assert set(asked(plan.rest(Comparison.BASELINE))) == {
        "W.requests",
        "W.errors",
        "ref.requests",
        "ref.errors",
        "last.requests",
        "last.errors",
    }


def test_answers_become_inputs() -> None:
    plan = WatchPlan(WatchQueries(), "webapp", "prod", WINDOWS)
    found = {"W.requests": 600.0, "W.errors": None, "p95": math.nan, "health": 1.0}
    inputs = plan.inputs(
        found, comparison=Comparison.BASELINE, errors={"ready": "r", "errors": "e"}
    )
    assert (inputs.window.requests, inputs.window.errors) == (600.0, None)
    assert inputs.reference.requests is None
    assert (inputs.p95, inputs.health, inputs.ready) == (None, 1.0, None)
    assert list(inputs.errors) == ["errors", "ready"]
    assert (inputs.at, inputs.age) == (WINDOWS.at, WINDOWS.age)


@pytest.mark.parametrize(("combine", "answer"), [("sum", 6.0), ("min", 1.0), ("max", 3.0)])
def test_a_query_combines_its_samples(combine: str, answer: float) -> None:
    query = WatchQuery("k", "t", "e", WINDOWS.at, combine)  # type: ignore[arg-type]
    assert query.answer([1.0, 2.0, 3.0]) == answer
    assert query.answer([]) is None
