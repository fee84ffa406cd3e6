"""Deterministic release metrics for a real Prometheus: a healthy service and an error spike.

OpenMetrics at fixed epochs, backfilled with promtool, so verdicts can be replayed exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.harness.prometheus import PrometheusServer, start_prometheus

R = 1_700_003_700  # release end: 2023-11-14T23:15:00Z, on the minute
RELEASE = datetime.fromtimestamp(R, UTC)
STEP = 15  # seconds between samples
START, END = R - 3600, R + 3600
WEEK = 7 * 86400
KPI_START, KPI_END = START - WEEK, END - WEEK  # orders a week earlier, for B7
PER_STEP = 100  # requests every 15 s
SPIKE = 8  # 5xx every 15 s after the bad release: 8 %
BUCKETS = (("0.1", 50), ("0.25", 90), ("0.5", 98), ("1", 100), ("+Inf", 100))
P95 = 0.25 + 0.25 * (95 - 90) / (98 - 90)  # histogram_quantile's interpolation: 0.40625
ORDERS = 10  # orders every 15 s
T15, T1H = timedelta(minutes=15), timedelta(hours=1)
HEALTHY, SPIKED = "checkout", "payments"
KPI = 'sum(increase(orders_total{service="{service}",env="{env}"}[{window}]))'


def errors_in(service: str, t: int) -> int:
    """5xx served in the 15 s ending at `t`: 1 every 5th step, then 8 a step after a bad
    release."""
    if service == SPIKED and t > R:
        return SPIKE
    return 1 if (t // STEP) % 5 == 0 else 0


def count(service: str, code: str, t: int) -> int:
    """The generated counter's value at `t`."""
    steps = range(START + STEP, t + 1, STEP)
    errors = sum(errors_in(service, u) for u in steps)
    return errors if code == "500" else len(steps) * PER_STEP - errors


def openmetrics() -> str:
    times = range(START, END + 1, STEP)
    lines = ["# TYPE http_requests counter"]
    for service in (HEALTHY, SPIKED):
        for code in ("200", "500"):
            labels = f'service="{service}",env="prod",code="{code}"'
            lines += [
                f"http_requests_total{{{labels}}} {count(service, code, t)} {t}" for t in times
            ]
    lines.append("# TYPE http_request_duration_seconds histogram")
    for service in (HEALTHY, SPIKED):
        labels = f'service="{service}",env="prod"'
        for le, per_step in BUCKETS:
            bucket = f'http_request_duration_seconds_bucket{{{labels},le="{le}"}}'
            lines += [f"{bucket} {per_step * i} {t}" for i, t in enumerate(times)]
        for suffix, per_step in (("count", PER_STEP), ("sum", 20)):
            name = f"http_request_duration_seconds_{suffix}{{{labels}}}"
            lines += [f"{name} {per_step * i} {t}" for i, t in enumerate(times)]
    gauges = (
        ("up", "gauge", "", lambda i: 1),
        ("kube_pod_container_status_restarts", "counter", "_total", lambda i: 0),
        ("container_cpu_usage_seconds", "counter", "_total", lambda i: 4.5 * i),  # 0.3 cores
        ("kube_pod_container_resource_limits", "gauge", "", lambda i: 1),
    )
    for family, kind, suffix, value in gauges:
        lines.append(f"# TYPE {family} {kind}")
        for service in (HEALTHY, SPIKED):
            labels = f'service="{service}",env="prod"'
            if family.startswith(("container_", "kube_pod_container_resource")):
                labels += ',pod="p1",resource="cpu"' if "limits" in family else ',pod="p1"'
            lines += [f"{family}{suffix}{{{labels}}} {value(i)} {t}" for i, t in enumerate(times)]
    lines.append("# TYPE orders counter")
    week_ago = range(KPI_START, KPI_END + 1, STEP)
    orders = [*enumerate(week_ago), *enumerate(times, start=len(week_ago))]
    lines += [f'orders_total{{service="{HEALTHY}",env="prod"}} {ORDERS * i} {t}' for i, t in orders]
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus holding this data, one per test module that uses it."""
    server = start_prometheus(tmp_path_factory.mktemp("prom"), openmetrics=openmetrics())
    try:
        yield server
    finally:
        server.stop()
