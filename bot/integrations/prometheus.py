"""Herald's ``MetricsSource`` and ``WatchSource`` over Prometheus
(``bot.integrations.prometheus_client``).

A query Prometheus refuses (``PrometheusQueryError``) is recorded per query, so the verdict
shows it as ERROR; a Prometheus that cannot be reached at all raises ``MetricsUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.domain.checkup.metrics import (
    CheckupInputs,
    MetricsUnavailable,
    ServiceQueries,
    SustainInputs,
    Window,
    WindowInputs,
    Windows,
    render,
    windows_for,
)
from bot.domain.watch.inputs import Comparison, WatchInputs
from bot.domain.watch.queries import CanaryScope, WatchPlan, WatchQueries, WatchQuery
from bot.domain.watch.windows import WatchWindows
from bot.integrations.prometheus_client import PrometheusClient, PrometheusQueryError

# PrometheusClient and PrometheusQueryError are imported from here too.
__all__ = ["PrometheusClient", "PrometheusMetricsSource", "PrometheusQueryError"]

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- MetricsSource ---------------------------------------------------------------------------

COUNTS = ("requests", "errors", "kpi", "restarts")
SERIES = ("p95", "p99", "saturation", "kpi", "health")
SUSTAIN_SERIES = ("requests", "errors", "p95", "saturation", "kpi", "health")
_COMBINE: dict[str, Callable[[list[float]], float]] = {"health": min, "p95": max, "p99": max}


class PrometheusMetricsSource:
    """Runs a service's query templates for every window of a checkup, or for one evaluation
    of the early watch (8 at a time)."""

    def __init__(self, client: PrometheusClient, *, concurrency: int = 8) -> None:
        self._client = client
        self._concurrency = concurrency

    async def collect(
        self,
        *,
        queries: ServiceQueries,
        service: str,
        env: str,
        release_end: datetime,
        checkpoint: timedelta,
    ) -> CheckupInputs:
        windows = windows_for(release_end, checkpoint)
        run = _Run(self._client, asyncio.Semaphore(self._concurrency), queries, service, env)
        try:
            async with asyncio.TaskGroup() as group:
                post = group.create_task(run.window(windows.post, windows.step))
                baseline = group.create_task(run.window(windows.baseline, windows.step))
                baseline7 = group.create_task(run.window(windows.baseline7, windows.step))
                sustain = group.create_task(run.sustain(windows))
                burn = {
                    w.name: group.create_task(run.counts(w, ("requests", "errors")))
                    for w in windows.burn
                    if w.name != "P"
                }
        except* MetricsUnavailable as unavailable:
            raise _first(unavailable) from None
        return CheckupInputs(
            post=post.result(),
            baseline=baseline.result(),
            baseline7=baseline7.result(),
            sustain=sustain.result(),
            burn={name: task.result() for name, task in burn.items()},
            errors=dict(sorted(run.errors.items())),
        )

    async def gather_watch(
        self,
        *,
        queries: WatchQueries,
        service: str,
        env: str,
        windows: WatchWindows,
        canary: CanaryScope | None = None,
    ) -> WatchInputs:
        """The watch's numbers at ``windows.at``: during a canary, first whether the stable
        pods' series carry the pod-template hash, then the rest of ``WatchPlan``."""
        plan = WatchPlan(queries=queries, service=service, env=env, windows=windows, canary=canary)
        semaphore = asyncio.Semaphore(self._concurrency)
        probed, probe_errors = await self._instants(plan.probe(), semaphore)
        comparison = plan.comparison(probed)
        found, errors = await self._instants(plan.rest(comparison), semaphore)
        if comparison is Comparison.STABLE:  # else the probe's answers are not the subject's
            found, errors = {**probed, **found}, {**probe_errors, **errors}
        return plan.inputs(found, comparison=comparison, errors=errors)

    async def _instants(
        self, queries: tuple[WatchQuery, ...], semaphore: asyncio.Semaphore
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """Each query's answer by key, and the refused queries' reasons by template."""
        errors: dict[str, str] = {}

        async def ask(query: WatchQuery) -> float | None:
            async with semaphore:
                try:
                    samples = await self._client.query(query.expr, at=query.at)
                except PrometheusQueryError as e:
                    errors.setdefault(query.template, e.message)
                    return None
            return query.answer([v for _, v in samples])

        try:
            async with asyncio.TaskGroup() as group:
                tasks = {q.key: group.create_task(ask(q)) for q in queries}
        except* MetricsUnavailable as unavailable:
            raise _first(unavailable) from None
        return {key: task.result() for key, task in tasks.items()}, errors


def _first(group: BaseExceptionGroup[MetricsUnavailable]) -> MetricsUnavailable:
    first = group.exceptions[0]
    return first if isinstance(first, MetricsUnavailable) else _first(first)


class _Run:
    """One collect: the rendered templates, the semaphore and the per-query errors."""

    def __init__(
        self,
        client: PrometheusClient,
        semaphore: asyncio.Semaphore,
        queries: ServiceQueries,
        service: str,
        env: str,
    ) -> None:
        self._client, self._semaphore = client, semaphore
        self._templates = queries.templates()
        self._service, self._env = service, env
        self.errors: dict[str, str] = {}

    def _expr(self, name: str, window: str) -> str:
        return render(self._templates[name], service=self._service, env=self._env, window=window)

    async def _guard(self, name: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run one query; a query Prometheus refuses is recorded, not raised."""
        async with self._semaphore:
            try:
                return await call()
            except PrometheusQueryError as e:
                self.errors.setdefault(name, e.message)
                return None

    async def count(self, name: str, window: Window) -> float | None:
        """``increase()`` over the window at its end; no series at all is None."""
        expr = self._expr(name, window.range)
        samples = await self._guard(name, lambda: self._client.query(expr, at=window.end))
        return math.fsum(v for _, v in samples) if samples else None

    async def counts(self, window: Window, names: tuple[str, ...]) -> WindowInputs:
        names = tuple(n for n in names if n in self._templates)
        found = await asyncio.gather(*(self.count(n, window) for n in names))
        fields = {"kpi_events" if n == "kpi" else n: v for n, v in zip(names, found, strict=True)}
        return WindowInputs(
            requests=fields.get("requests"),
            errors=fields.get("errors"),
            kpi_events=fields.get("kpi_events"),
            restarts=fields.get("restarts"),
        )

    async def series(
        self, name: str, start: datetime, end: datetime, step: timedelta
    ) -> dict[float, float] | None:
        """A range query as ``{unix time: value}`` (several series combined per point)."""
        expr = self._expr(name, "1m")
        matrix = await self._guard(
            name, lambda: self._client.query_range(expr, start=start, end=end, step=step)
        )
        if matrix is None:
            return None
        merged: dict[float, list[float]] = {}
        for _, points in matrix:
            for t, v in points:
                merged.setdefault(_key(t), []).append(v)
        combine = _COMBINE.get(name, math.fsum)
        return {t: combine(vs) for t, vs in sorted(merged.items())}

    async def _all_series(
        self, names: tuple[str, ...], start: datetime, end: datetime, step: timedelta
    ) -> dict[str, dict[float, float] | None]:
        found = await asyncio.gather(*(self.series(n, start, end, step) for n in names))
        return dict(zip(names, found, strict=True))

    async def window(self, window: Window, step: timedelta) -> WindowInputs:
        """P, B or B7: the counts and every series metric over the window."""
        names = tuple(n for n in SERIES if n in self._templates)
        counted, found = await asyncio.gather(
            self.counts(window, COUNTS), self._all_series(names, window.start, window.end, step)
        )
        series: dict[str, Any] = {
            n: None if s is None else tuple(s.values()) for n, s in found.items()
        }
        return replace(counted, **series)

    async def sustain(self, windows: Windows) -> SustainInputs:
        """S: totals over the 5 minutes and the 11 points (a missing point is None)."""
        s, times = windows.sustain, windows.sustain_points
        names = tuple(n for n in SUSTAIN_SERIES if n in self._templates)
        totals, found = await asyncio.gather(
            self.counts(s, ("requests", "errors")),
            self._all_series(names, s.start, s.end, times[1] - times[0]),
        )
        points: dict[str, Any] = {}
        for name, values in found.items():
            key = f"{name}_points" if name in ("requests", "errors") else name
            points[key] = tuple((values or {}).get(_key(t)) for t in times)
        return SustainInputs(requests=totals.requests, errors=totals.errors, **points)


def _key(t: datetime | float) -> float:
    """Point times as dictionary keys (millisecond precision, like Prometheus)."""
    return round(t.timestamp() if isinstance(t, datetime) else t, 3)
