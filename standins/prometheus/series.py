"""The simulated service: its profiles, an optional canary, and every series it exposes,
scraped every 15 s."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Profile = Literal["healthy", "spike"]
Pods = Literal["all", "stable", "canary"]
PROFILES: tuple[Profile, ...] = ("healthy", "spike")

STEP = 15.0  # seconds between scrapes
PER_STEP = 100  # requests per step
ERROR_EVERY = 5  # healthy: one 5xx every 5th step
SPIKE = 8  # 5xx per step after a bad release
BUCKETS = (("0.1", 50), ("0.25", 90), ("0.5", 98), ("1", 100), ("+Inf", 100))
CPU_PER_STEP = 4.5  # CPU seconds per step: 0.3 cores
DURATION_SUM_PER_STEP = 20.0
CANARY_LABEL = "rollouts_pod_template_hash"
CANARY_PER_STEP = 25  # requests per step that a canary's pods take from release_at on
CANARY_SPIKE = 2  # 5xx per step on a spiking canary's pods: 8 %

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs


def _steps(a: float, b: float, every: float = STEP) -> int:
    """Scrapes (multiples of ``every`` seconds) in ``(a, b]``."""
    return max(0, math.floor(b / every) - math.floor(a / every))


def _healthy_errors(a: float, b: float) -> int:
    return _steps(a, b, STEP * ERROR_EVERY)


@dataclass(frozen=True)
class Behaviour:
    profile: Profile = "healthy"
    release_at: float | None = None  # unix seconds
    canary: tuple[str, str] | None = None  # (stable, canary) pod-template hashes

    def _around_release(self, a: float, b: float) -> tuple[int, int]:
        """Steps in ``(a, b]`` before and after ``release_at``."""
        r = self.release_at
        if r is None or b <= r:
            return _steps(a, b), 0
        if a >= r:
            return 0, _steps(a, b)
        return _steps(a, r), _steps(r, b)

    def requests(self, a: float, b: float, pods: Pods = "all") -> float:
        """Requests served in ``(a, b]`` by these pods."""
        before, after = self._around_release(a, b)
        if pods == "all":
            return float(PER_STEP * (before + after))
        if pods == "canary":
            return float(CANARY_PER_STEP * after)
        return float(PER_STEP * before + (PER_STEP - CANARY_PER_STEP) * after)

    def errors(self, a: float, b: float, pods: Pods = "all") -> float:
        """5xx served in ``(a, b]`` by these pods (with a canary, a spike hits only it)."""
        spiking = self.profile == "spike"
        if pods == "canary":
            return float(CANARY_SPIKE * self._around_release(a, b)[1] if spiking else 0)
        r = self.release_at
        if pods == "stable" or not spiking or r is None or b <= r:
            return float(_healthy_errors(a, b))
        if a >= r:
            return float(SPIKE * _steps(a, b))
        return float(_healthy_errors(a, r) + SPIKE * _steps(r, b))


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


def _pods(behaviour: Behaviour) -> list[tuple[Pods, dict[str, str]]]:
    """The pods whose HTTP series are told apart, with the labels that tell them apart."""
    if behaviour.canary is None:
        return [("all", {})]
    stable, canary = behaviour.canary
    return [("stable", {CANARY_LABEL: stable}), ("canary", {CANARY_LABEL: canary})]


def _http_series(behaviour: Behaviour, pods: Pods) -> dict[str, Callable[[float, float], float]]:
    """Counters of these pods: requests by code, and each latency bucket by its ``le``."""

    def ok(a: float, b: float) -> float:
        return behaviour.requests(a, b, pods) - behaviour.errors(a, b, pods)

    def failed(a: float, b: float) -> float:
        return behaviour.errors(a, b, pods)

    def bucket(share: int) -> Callable[[float, float], float]:
        return lambda a, b: share * behaviour.requests(a, b, pods) / PER_STEP

    return {"200": ok, "500": failed, **{le: bucket(n) for le, n in BUCKETS}}


def simulate_service(service: str, env: str, behaviour: Behaviour) -> dict[str, list[Series]]:
    """Every series of one service, by metric name. With a canary, the HTTP series and ``up``
    carry the pods' pod-template hash (``rollouts_pod_template_hash``)."""

    def labels(name: str, **extra: str) -> Labels:
        return tuple(sorted({"__name__": name, "service": service, "env": env, **extra}.items()))

    http = "http_request_duration_seconds"
    requests, buckets, up = [], [], []
    for pods, extra in _pods(behaviour):
        counters = _http_series(behaviour, pods)
        requests += [
            Series(labels("http_requests_total", code=code, **extra), increase=counters[code])
            for code in ("200", "500")
        ]
        buckets += [
            Series(labels(f"{http}_bucket", le=le, **extra), increase=counters[le])
            for le, _ in BUCKETS
        ]
        pod = f"{service}-{extra[CANARY_LABEL]}-0" if extra else f"{service}-0"
        up.append(Series(labels("up", instance=f"{pod}:8080", job=service, **extra), gauge=1.0))
    return {
        "http_requests_total": requests,
        f"{http}_bucket": buckets,
        f"{http}_count": [Series(labels(f"{http}_count"), increase=_per_step(PER_STEP))],
        f"{http}_sum": [Series(labels(f"{http}_sum"), increase=_per_step(DURATION_SUM_PER_STEP))],
        "up": up,
        **_pod_series(labels, pod=f"{service}-0"),
    }


def _pod_series(labels: Callable[..., Labels], *, pod: str) -> dict[str, list[Series]]:
    """What kube-state-metrics and cAdvisor say of the service's pod: ready, no restarts,
    0.3 of its 1-CPU limit."""
    return {
        "kube_pod_status_ready": [
            Series(labels("kube_pod_status_ready", pod=pod, condition="true"), gauge=1.0)
        ],
        "kube_pod_container_status_restarts_total": [
            Series(
                labels("kube_pod_container_status_restarts_total", pod=pod),
                increase=_per_step(0.0),
            )
        ],
        "container_cpu_usage_seconds_total": [
            Series(
                labels("container_cpu_usage_seconds_total", pod=pod),
                increase=_per_step(CPU_PER_STEP),
            )
        ],
        "kube_pod_container_resource_limits": [
            Series(labels("kube_pod_container_resource_limits", pod=pod, resource="cpu"), gauge=1.0)
        ],
    }
