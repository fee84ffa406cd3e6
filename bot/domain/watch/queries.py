"""The PromQL a watch evaluation runs: the checkup's templates, readiness, and the canary split.

``WatchPlan`` says which query to ask at which time and where each answer goes; the
Prometheus side (``WatchSource``) only asks them. During a canary the plan first asks for
requests over W on the canary's and on the stable pods (selected by the pod-template hash
label); if the stable pods' series carry the label, the canary is compared with them,
otherwise with the baseline before R.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from bot.domain.checkup.metrics import ServiceQueries, Window, WindowInputs, render
from bot.domain.watch.inputs import Comparison, WatchInputs
from bot.domain.watch.windows import WatchWindows

__all__ = [
    "CANARY_LABEL",
    "READY",
    "CanaryScope",
    "WatchPlan",
    "WatchQueries",
    "WatchQuery",
    "WatchSource",
    "scoped",
]

CANARY_LABEL = "rollouts_pod_template_hash"  # Prometheus's name for rollouts-pod-template-hash
READY = 'min(kube_pod_status_ready{service="{service}",env="{env}",condition="true"})'
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV = '"{env}"'


@dataclass(frozen=True)
class WatchQueries:
    """A service's templates for the watch: ``requests``, ``errors``, ``p95``, ``health`` and
    ``restarts`` of its checkup queries, plus ``ready`` (1 when every pod is ready; ``None``
    switches it off), and the label that carries a pod's Rollout revision."""

    checkup: ServiceQueries = field(default_factory=ServiceQueries)
    ready: str | None = READY
    canary_label: str = CANARY_LABEL

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.canary_label):
            raise ValueError(f"{self.canary_label!r} is not a Prometheus label name")

    def template(self, name: str) -> str | None:
        """A template by name: ``ready``, or a field of the checkup's queries."""
        return self.ready if name == "ready" else getattr(self.checkup, name)


@dataclass(frozen=True)
class CanaryScope:
    """A canary in flight: the pod-template hashes of its canary and its stable pods."""

    canary: str
    stable: str


def scoped(template: str, *, label: str, value: str) -> str | None:
    """The template with ``label="value"`` beside each ``env="{env}"`` matcher, or ``None``
    when it has none (then its series cannot be split by the label)."""
    if _ENV not in template:
        return None
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    return template.replace(_ENV, f'{_ENV},{label}="{quoted}"')


Combine = Literal["sum", "min", "max"]


@dataclass(frozen=True)
class WatchQuery:
    """One instant query: asked at ``at``; its samples combined into the answer for ``key``."""

    key: str  # "W.requests", "ref.errors", "last.requests", "p95", "health", ...
    template: str  # the template's name, which WatchInputs.errors uses
    expr: str
    at: datetime
    combine: Combine = "sum"

    def answer(self, values: list[float]) -> float | None:
        """The samples as one number; no sample at all is ``None``."""
        if not values:
            return None
        if self.combine == "min":
            return min(values)
        return max(values) if self.combine == "max" else math.fsum(values)


@dataclass(frozen=True)
class WatchPlan:
    queries: WatchQueries
    service: str
    env: str
    windows: WatchWindows
    canary: CanaryScope | None = None

    def probe(self) -> tuple[WatchQuery, ...]:
        """Asked first during a canary: requests over W on the canary's and the stable pods."""
        if self.canary is None or not self._splittable():
            return ()
        w = self.windows.window
        asked = (
            self._count("W.requests", "requests", w, scope=self.canary.canary),
            self._count("ref.requests", "requests", w, scope=self.canary.stable),
        )
        return tuple(q for q in asked if q is not None)

    def comparison(self, probed: Mapping[str, float | None]) -> Comparison:
        """Canary against stable when the stable pods' series carry the label."""
        if self.probe() and probed.get("ref.requests") is not None:
            return Comparison.STABLE
        return Comparison.BASELINE7 if self.windows.baseline_polluted else Comparison.BASELINE

    def rest(self, comparison: Comparison) -> tuple[WatchQuery, ...]:
        """Everything else the rules read, for that comparison (the probe's answers kept)."""
        w, ref, last = self.windows.window, self.windows.reference, self.windows.last
        mine: str | None = None
        asked: list[WatchQuery | None] = []
        if comparison is Comparison.STABLE:
            assert self.canary is not None
            mine = self.canary.canary
            asked += [self._count("W.errors", "errors", w, scope=mine)]
            asked += [self._count("ref.errors", "errors", w, scope=self.canary.stable)]
        else:
            asked += [self._count(f"W.{n}", n, w) for n in ("requests", "errors")]
            asked += [self._count(f"ref.{n}", n, ref) for n in ("requests", "errors")]
        asked += [self._count(f"last.{n}", n, last, scope=mine) for n in ("requests", "errors")]
        asked += [
            self._instant("p95", "max", scope=mine),
            self._instant("health", "min"),
            self._instant("ready", "min"),
            self._count("restarts", "restarts", self.windows.since_release),
        ]
        return tuple(q for q in asked if q is not None)

    def inputs(
        self,
        found: Mapping[str, float | None],
        *,
        comparison: Comparison,
        errors: Mapping[str, str],
    ) -> WatchInputs:
        """The answers as the rules read them (a NaN, such as p95 without traffic, is None)."""

        def get(key: str) -> float | None:
            value = found.get(key)
            return None if value is None or math.isnan(value) else value

        def counts(prefix: str) -> WindowInputs:
            return WindowInputs(requests=get(f"{prefix}.requests"), errors=get(f"{prefix}.errors"))

        return WatchInputs(
            windows=self.windows,
            comparison=comparison,
            window=counts("W"),
            reference=counts("ref"),
            last=counts("last"),
            p95=get("p95"),
            health=get("health"),
            ready=get("ready"),
            restarts=get("restarts"),
            errors=dict(sorted(errors.items())),
        )

    # -- helpers -----------------------------------------------------------------------------

    def _splittable(self) -> bool:
        return all(
            (t := self.queries.template(n)) is not None and _ENV in t
            for n in ("requests", "errors")
        )

    def _expr(self, name: str, *, window: str, scope: str | None) -> str | None:
        template = self.queries.template(name)
        if template is not None and scope is not None:
            template = scoped(template, label=self.queries.canary_label, value=scope) or template
        if template is None:
            return None
        return render(template, service=self.service, env=self.env, window=window)

    def _count(
        self, key: str, name: str, window: Window, *, scope: str | None = None
    ) -> WatchQuery | None:
        expr = self._expr(name, window=window.range, scope=scope)
        return None if expr is None else WatchQuery(key, name, expr, window.end)

    def _instant(
        self, name: str, combine: Combine, *, scope: str | None = None
    ) -> WatchQuery | None:
        expr = self._expr(name, window="1m", scope=scope)
        return None if expr is None else WatchQuery(name, name, expr, self.windows.at, combine)


class WatchSource(Protocol):
    async def gather_watch(
        self,
        *,
        queries: WatchQueries,
        service: str,
        env: str,
        windows: WatchWindows,
        canary: CanaryScope | None = None,
    ) -> WatchInputs:
        """Ask the plan's queries; raises MetricsUnavailable if Prometheus is unreachable."""
        ...
