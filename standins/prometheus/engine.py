"""Evaluating the PromQL subset: selection, rate and increase, aggregation, quantiles and
arithmetic, at every evaluation time at once."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from standins.prometheus.promql import BadData, parse
from standins.prometheus.series import (
    PROFILES,
    STEP,
    Behaviour,
    Labels,
    Profile,
    Series,
    simulate_service,
)
from standins.prometheus.syntax import Aggregate, Binary, Call, Node, Num, Selector, kind_of
from standins.prometheus.wire import format_timestamp, format_value

MAX_POINTS = 11_000  # Prometheus's limit per series of a range query
Values = list[float]  # one value per evaluation time
Matrix = dict[Labels, Values]  # an instant vector at every evaluation time


@functools.lru_cache(maxsize=4096)
def _drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


@functools.lru_cache(maxsize=4096)
def _group_key(labels: Labels, grouping: tuple[str, ...] | None, without: bool) -> Labels:
    if grouping is None:
        return ()
    if without:
        return tuple(p for p in _drop_name(labels) if p[0] not in grouping)
    return tuple(p for p in labels if p[0] in grouping)


@functools.lru_cache(maxsize=4096)
def _bucket(labels: Labels) -> tuple[Labels, float] | None:
    """A histogram bucket's labels without ``le`` and its upper bound."""
    le = dict(labels).get("le")
    if le is None:
        return None
    return tuple(p for p in _drop_name(labels) if p[0] != "le"), float(le)


def _quantile(phi: float, bounds: list[float], counts: list[float]) -> float:
    """Prometheus's ``histogram_quantile`` over sorted upper bounds and cumulative counts."""
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    if len(bounds) < 2 or bounds[-1] != math.inf or counts[-1] == 0:
        return math.nan
    rank = phi * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start, below = (0.0, 0.0) if index == 0 else (bounds[index - 1], counts[index - 1])
    return start + (bounds[index] - start) * (rank - below) / (counts[index] - below)


def _aggregate(op: str, values: Sequence[float]) -> float:
    if op == "sum":
        return math.fsum(values)
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    if op == "avg":
        return math.fsum(values) / len(values)
    return float(len(values))


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return a / b
    return math.fmod(a, b) if b != 0 else math.nan


K = TypeVar("K")
V = TypeVar("V")
CACHED = 2048  # entries per cache: the queries of ~100 checkups in flight, not of every one


def _remember(cache: dict[K, V], key: K, value: V, *, size: int = CACHED) -> V:
    """Store in a bounded cache, forgetting the oldest entry when it is full."""
    if len(cache) >= size:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


class PromQLEngine:
    """Evaluates the PromQL subset against the simulated services, with bounded caches of
    parsed queries, built series and selections; ``set_profile`` chooses a service's
    behaviour."""

    def __init__(self) -> None:
        self._behaviours: dict[str, Behaviour] = {}
        self._series: dict[tuple[str, str], dict[str, list[Series]]] = {}
        self._selected: dict[Selector, list[Series]] = {}
        self._parsed: dict[str, Node] = {}

    # -- the simulated services ------------------------------------------------------------

    def set_profile(
        self,
        service: str,
        profile: Profile = "healthy",
        *,
        release_at: datetime | None = None,
        canary: tuple[str, str] | None = None,
    ) -> None:
        """``healthy``, or ``spike``: 8 % 5xx from ``release_at`` (timezone-aware) on. With
        ``canary`` (the stable and the canary pod-template hash), a canary's pods take a
        quarter of the requests from ``release_at`` on, and a spike hits only them."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
        if (profile == "spike" or canary is not None) and release_at is None:
            raise ValueError(f"a {'canary' if canary else 'spike'} needs release_at")
        if release_at is not None and release_at.tzinfo is None:
            raise ValueError("release_at must be timezone-aware")
        at = None if release_at is None else release_at.timestamp()
        self._behaviours[service] = Behaviour(profile, at, canary)
        for key in [k for k in self._series if k[0] == service]:
            del self._series[key]
        self._selected.clear()

    def profile(self, service: str) -> Profile:
        return self._behaviours.get(service, Behaviour()).profile

    # -- evaluation ------------------------------------------------------------------------

    def _parse(self, query: str) -> Node:
        node = self._parsed.get(query)
        if node is None:
            node = _remember(self._parsed, query, parse(query))
        return node

    def _select(self, selector: Selector) -> list[Series]:
        found = self._selected.get(selector)
        if found is None:
            found = _remember(self._selected, selector, self._match(selector))
        return found

    def _match(self, selector: Selector) -> list[Series]:
        service = selector.equal("service")
        metric = selector.equal("__name__")
        if service is None or metric is None:
            return []
        env = selector.equal("env") or "prod"
        key = (service, env)
        series = self._series.get(key)
        if series is None:
            behaviour = self._behaviours.get(service, Behaviour())
            built = simulate_service(service, env, behaviour)
            series = _remember(self._series, key, built, size=CACHED // 8)
        matchers = selector.matchers
        return [
            s for s in series.get(metric, []) if all(m.matches(dict(s.labels)) for m in matchers)
        ]

    def _eval(self, node: Node, times: list[float]) -> Values | Matrix:
        """The node's value at every one of ``times``: a scalar's values, or a vector's per
        series (every simulated series has a sample at every time)."""
        if isinstance(node, Num):
            return [node.value] * len(times)
        if isinstance(node, Selector):  # an instant selector; ranges only inside calls
            return {s.labels: [s.value(t) for t in times] for s in self._select(node)}
        if isinstance(node, Call):
            return self._call(node, times)
        if isinstance(node, Aggregate):
            return self._aggregate(node, times)
        return self._binary(node, times)

    def _matrix(self, node: Node, times: list[float]) -> Matrix:
        value = self._eval(node, times)
        assert isinstance(value, dict), "the parser checks argument types"
        return value

    def _scalar(self, node: Node, times: list[float]) -> Values:
        value = self._eval(node, times)
        assert isinstance(value, list), "the parser checks argument types"
        return value

    def _call(self, node: Call, times: list[float]) -> Matrix:
        if node.name in ("rate", "increase"):
            selector = node.args[0]
            assert isinstance(selector, Selector) and selector.range_seconds is not None
            window = selector.range_seconds
            per = window if node.name == "rate" else 1.0
            return {
                _drop_name(s.labels): [s.growth(t - window, t) / per for t in times]
                for s in self._select(selector)
            }
        if node.name == "vector":
            return {(): self._scalar(node.args[0], times)}
        phis = self._scalar(node.args[0], times)
        groups: dict[Labels, list[tuple[float, Values]]] = {}
        for labels, values in self._matrix(node.args[1], times).items():
            bucket = _bucket(labels)
            if bucket is not None:
                groups.setdefault(bucket[0], []).append((bucket[1], values))
        quantiles: Matrix = {}
        for labels, buckets in groups.items():
            buckets.sort(key=lambda b: b[0])
            bounds = [le for le, _ in buckets]
            quantiles[labels] = [
                _quantile(phi, bounds, [values[i] for _, values in buckets])
                for i, phi in enumerate(phis)
            ]
        return quantiles

    def _aggregate(self, node: Aggregate, times: list[float]) -> Matrix:
        groups: dict[Labels, list[Values]] = {}
        grouping, without = node.grouping, node.without
        for labels, values in self._matrix(node.arg, times).items():
            groups.setdefault(_group_key(labels, grouping, without), []).append(values)
        return {
            key: [_aggregate(node.op, column) for column in zip(*members, strict=True)]
            for key, members in groups.items()
        }

    def _binary(self, node: Binary, times: list[float]) -> Values | Matrix:
        lhs, rhs = self._eval(node.lhs, times), self._eval(node.rhs, times)
        op = node.op

        def apply(a: Values, b: Values) -> Values:
            return [_arith(op, x, y) for x, y in zip(a, b, strict=True)]

        if isinstance(lhs, list) and isinstance(rhs, list):
            return apply(lhs, rhs)
        if isinstance(lhs, list):
            assert isinstance(rhs, dict)
            return {_drop_name(k): apply(lhs, v) for k, v in rhs.items()}
        if isinstance(rhs, list):
            return {_drop_name(k): apply(v, rhs) for k, v in lhs.items()}
        right = {_drop_name(k): v for k, v in rhs.items()}
        return {
            _drop_name(k): apply(v, right[_drop_name(k)])
            for k, v in lhs.items()
            if _drop_name(k) in right
        }

    def instant(self, query: str, at_ms: int) -> dict[str, Any]:
        """The ``data`` of an instant query (BadData if Prometheus would refuse it)."""
        node = self._parse(query)
        if isinstance(node, Selector) and node.range_seconds is not None:
            return {"resultType": "matrix", "result": self._raw(node, at_ms)}
        value = self._eval(node, [at_ms / 1000])
        at = format_timestamp(at_ms)
        if isinstance(value, list):
            return {"resultType": "scalar", "result": [at, format_value(value[0])]}
        result = [{"metric": dict(k), "value": [at, format_value(v[0])]} for k, v in value.items()]
        return {"resultType": "vector", "result": result}

    def _raw(self, node: Selector, at_ms: int) -> list[dict[str, Any]]:
        """A range selector's samples: the scrapes in ``(t - range, t]``."""
        assert node.range_seconds is not None
        t = at_ms / 1000
        first = math.floor((t - node.range_seconds) / STEP) + 1
        times = [k * STEP for k in range(first, math.floor(t / STEP) + 1)]
        return [
            {
                "metric": dict(s.labels),
                "values": [
                    [format_timestamp(round(u * 1000)), format_value(s.value(u))] for u in times
                ],
            }
            for s in self._select(node)
        ]

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, Any]:
        """The ``data`` of a range query: every series' points from start to end."""
        if end_ms < start_ms:
            raise BadData('invalid parameter "end": end timestamp must not be before start time')
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
            raise BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                "the query resolution (?step=XX)"
            )
        node = self._parse(query)
        if kind_of(node) == "matrix":
            raise BadData(
                'invalid parameter "query": invalid expression type "range vector" for range '
                "query, must be Scalar or instant Vector"
            )
        stamps = range(start_ms, end_ms + 1, step_ms)
        value = self._eval(node, [ms / 1000 for ms in stamps])
        matrix = {(): value} if isinstance(value, list) else value
        result = [
            {
                "metric": dict(labels),
                "values": [
                    [format_timestamp(ms), format_value(v)]
                    for ms, v in zip(stamps, values, strict=True)
                ],
            }
            for labels, values in matrix.items()
        ]
        return {"resultType": "matrix", "result": result}
