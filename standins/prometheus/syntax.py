"""The syntax tree of the PromQL subset, its value types, and which query template it is."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(got) is not None) == (self.op == "=~")
        return (got == self.value) == (self.op == "=")


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]  # the metric name as a __name__ matcher
    range_seconds: float | None = None

    def equal(self, name: str) -> str | None:
        return next((m.value for m in self.matchers if m.name == name and m.op == "="), None)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Aggregate:
    op: str
    arg: Node
    grouping: tuple[str, ...] | None = None  # None: everything in one group
    without: bool = False


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node


Node = Num | Selector | Call | Aggregate | Binary


def kind_of(node: Node) -> str:
    """ "scalar", "vector" or "matrix" (a range selector)."""
    if isinstance(node, Num):
        return "scalar"
    if isinstance(node, Selector):
        return "vector" if node.range_seconds is None else "matrix"
    if isinstance(node, Binary):
        return "scalar" if kind_of(node.lhs) == kind_of(node.rhs) == "scalar" else "vector"
    return "vector"


def query_kind(node: Node) -> str:
    """Which ServiceQueries template a query looks like ("requests", "p95", ...), or "other"."""
    if isinstance(node, Call) and node.name == "histogram_quantile":
        phi = node.args[0]
        return f"p{phi.value * 100:g}" if isinstance(phi, Num) else "other"
    names = {m.value: s for s in _selectors(node) for m in s.matchers if m.name == "__name__"}
    if "http_requests_total" in names:
        coded = any(m.name == "code" for m in names["http_requests_total"].matchers)
        return "errors" if coded else "requests"
    for metric, kind in (
        ("container_cpu_usage_seconds_total", "saturation"),
        ("up", "health"),
        ("kube_pod_status_ready", "ready"),
        ("kube_pod_container_status_restarts_total", "restarts"),
    ):
        if metric in names:
            return kind
    return "other"


def _selectors(node: Node) -> Iterator[Selector]:
    if isinstance(node, Selector):
        yield node
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _selectors(arg)
    elif isinstance(node, Aggregate):
        yield from _selectors(node.arg)
    elif isinstance(node, Binary):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)
