"""The simulated service: its profiles, and every series it exposes, scraped every 15 s."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Profile = Literal["healthy", "spike"]
PROFILES: tuple[Profile, ...] = ("healthy", "spike")

STEP = 15.0  # seconds between scrapes
PER_STEP = 100  # requests per step
ERROR_EVERY = 5  # healthy: one 5xx every 5th step
SPIKE = 8  # 5xx per step after a bad release
BUCKETS = (("0.1", 50), ("0.25", 90), ("0.5", 98), ("1", 100), ("+Inf", 100))
CPU_PER_STEP = 4.5  # CPU seconds per step: 0.3 cores
DURATION_SUM_PER_STEP = 20.0

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs


def _steps(a: float, b: float, every: float = STEP) -> int:
    """Scrapes (multiples of ``every`` seconds) in ``(a, b]``."""
    return max(0, math.floor(b / every) - math.floor(a / every))


@dataclass(frozen=True)
class Behaviour:
    profile: Profile = "healthy"
    release_at: float | None = None  # unix seconds

    def errors(self, a: float, b: float) -> float:
        """5xx served in ``(a, b]``."""

        def healthy(lo: float, hi: float) -> int:
            return _steps(lo, hi, STEP * ERROR_EVERY)

        r = self.release_at
        if self.profile == "healthy" or r is None or b <= r:
            return float(healthy(a, b))
        if a >= r:
            return float(SPIKE * _steps(a, b))
        return float(healthy(a, r) + SPIKE * _steps(r, b))


@dataclass(frozen=True)
class Series:
    labels: Labels  # with __name__
    increase: Callable[[float, float], float] | None = None  # counters: growth in (a, b]
    gauge: float | None = None

    def value(self, t: float) -> float:
        if self.gauge is not None:
            return self.gauge
        assert self.increase is not None
        return self.increase(0.0, t)

    def growth(self, a: float, b: float) -> float:
        return 0.0 if self.increase is None else self.increase(a, b)


def _per_step(amount: float) -> Callable[[float, float], float]:
    return lambda a, b: amount * _steps(a, b)


def simulate_service(service: str, env: str, behaviour: Behaviour) -> dict[str, list[Series]]:
    """Every series of one service, by metric name."""

    def labels(name: str, **extra: str) -> Labels:
        return tuple(sorted({"__name__": name, "service": service, "env": env, **extra}.items()))

    def ok(a: float, b: float) -> float:
        return PER_STEP * _steps(a, b) - behaviour.errors(a, b)

    http = "http_request_duration_seconds"
    return {
        "http_requests_total": [
            Series(labels("http_requests_total", code="200"), increase=ok),
            Series(labels("http_requests_total", code="500"), increase=behaviour.errors),
        ],
        f"{http}_bucket": [
            Series(labels(f"{http}_bucket", le=le), increase=_per_step(n)) for le, n in BUCKETS
        ],
        f"{http}_count": [Series(labels(f"{http}_count"), increase=_per_step(PER_STEP))],
        f"{http}_sum": [Series(labels(f"{http}_sum"), increase=_per_step(DURATION_SUM_PER_STEP))],
        "up": [Series(labels("up", instance=f"{service}-0:8080", job=service), gauge=1.0)],
        "kube_pod_container_status_restarts_total": [
            Series(
                labels("kube_pod_container_status_restarts_total", pod=f"{service}-0"),
                increase=_per_step(0.0),
            )
        ],
        "container_cpu_usage_seconds_total": [
            Series(
                labels("container_cpu_usage_seconds_total", pod=f"{service}-0"),
                increase=_per_step(CPU_PER_STEP),
            )
        ],
        "kube_pod_container_resource_limits": [
            Series(
                labels("kube_pod_container_resource_limits", pod=f"{service}-0", resource="cpu"),
                gauge=1.0,
            )
        ],
    }
