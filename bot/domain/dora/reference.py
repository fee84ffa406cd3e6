"""The counts a window's DORA figures rest on, and their reference computation over
releases in memory: the pure definition the SQL aggregates in `bot/store/dora.py` are tested
against (the same counts, and percentiles with the same bits as PostgreSQL's
`percentile_cont`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.dora.window import DoraWindow
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Risk
from bot.domain.release.model import Release

PRODUCTION_ENVS = ("prod", "production")  # where a rehearsed rollback is counted


@dataclass(frozen=True)
class WindowCounts:
    """The aggregates one window needs: what the SQL returns, or the pure reference computes.

    `deploy_days` maps a day index (`DoraWindow.day_index`) to the deploys on that day."""

    deploys: int = 0
    deploy_days: Mapping[int, int] = field(default_factory=dict)
    failed_deploys: int = 0
    rework_deploys: int = 0
    lead_times: int = 0
    lead_time_median: float | None = None
    lead_time_p90: float | None = None
    failures: int = 0
    restores: int = 0
    restore_median: float | None = None
    production_deploys: int = 0  # deploys to `prod` or `production`
    rehearsed_deploys: int = 0  # of those, with the rollback rehearsed in another env first


def percentile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """0-based ranks of the two values `percentile_cont(q)` interpolates, and the weight."""
    position = q * (n - 1)
    low = math.floor(position)
    return low, math.ceil(position), position - low


def interpolate(low: float, high: float, weight: float) -> float:
    """As PostgreSQL's `float8_lerp`, so both databases give the same bits."""
    return low + (high - low) * weight


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """`percentile_cont(q)` of already sorted values; None for none."""
    if not sorted_values:
        return None
    low, high, weight = percentile_ranks(len(sorted_values), q)
    return interpolate(sorted_values[low], sorted_values[high], weight)


@dataclass(frozen=True)
class ReleaseFacts:
    """What DORA needs of one release (one row of the store)."""

    service: str
    env: str
    deployed_at: datetime | None = None
    failed_at: datetime | None = None
    rolled_back_at: datetime | None = None
    recovered_at: datetime | None = None
    lead_time_seconds: float | None = None
    hotfix: bool = False
    rehearsed: bool = False  # its rollback was rehearsed in another env before it deployed

    @classmethod
    def of(cls, release: Release) -> ReleaseFacts:
        times = release.times
        return cls(
            service=release.service,
            env=release.env,
            deployed_at=times.get(EventType.DEPLOYED),
            failed_at=times.get(EventType.FAILED),
            rolled_back_at=times.get(EventType.ROLLED_BACK),
            recovered_at=times.get(EventType.RECOVERED),
            lead_time_seconds=release.lead_time_seconds,
            hotfix=release.manifest.risk is Risk.EMERGENCY,
        )

    @classmethod
    def from_events(
        cls,
        *,
        service: str,
        env: str,
        events: Iterable[tuple[EventType, datetime]],
        lead_time_seconds: float | None = None,
        committed_at: datetime | None = None,
        hotfix: bool = False,
    ) -> ReleaseFacts:
        """A release from its lifecycle events. As in the store, only the first event of each
        type counts (a repeat is acknowledged and dropped). Lead time: `lead_time_seconds`
        when given, else deployed - `committed_at` (the manifest's oldest commit)."""
        first: dict[EventType, datetime] = {}
        for event, at in events:
            first.setdefault(event, at)
        deployed = first.get(EventType.DEPLOYED)
        if lead_time_seconds is None and deployed and committed_at:
            lead_time_seconds = max(0.0, (deployed - committed_at).total_seconds())
        return cls(
            service=service,
            env=env,
            deployed_at=deployed,
            failed_at=first.get(EventType.FAILED),
            rolled_back_at=first.get(EventType.ROLLED_BACK),
            recovered_at=first.get(EventType.RECOVERED),
            lead_time_seconds=lead_time_seconds if deployed else None,
            hotfix=hotfix,
        )


def count_window(
    releases: Iterable[ReleaseFacts],
    window: DoraWindow,
    *,
    service: str | None = None,
    env: str | None = None,
) -> WindowCounts:
    """The reference for the SQL in bot/store/dora.py: the same counts, in plain Python."""
    chosen = [
        r
        for r in releases
        if (service is None or r.service == service) and (env is None or r.env == env)
    ]
    deployed = [r for r in chosen if window.contains(r.deployed_at)]
    days: dict[int, int] = {}
    for r in deployed:
        assert r.deployed_at is not None
        index = window.day_index(r.deployed_at)
        days[index] = days.get(index, 0) + 1
    leads = sorted(
        r.lead_time_seconds for r in deployed if r.lead_time_seconds and r.lead_time_seconds > 0
    )
    failed = [r for r in chosen if window.contains(r.failed_at)]
    restores = sorted(
        (r.recovered_at - r.failed_at).total_seconds()
        for r in failed
        if r.recovered_at is not None and r.failed_at is not None
    )
    production = [r for r in deployed if r.env in PRODUCTION_ENVS]
    return WindowCounts(
        production_deploys=len(production),
        rehearsed_deploys=sum(1 for r in production if r.rehearsed),
        deploys=len(deployed),
        deploy_days=days,
        failed_deploys=sum(1 for r in deployed if r.failed_at or r.rolled_back_at),
        rework_deploys=sum(1 for r in deployed if r.hotfix or r.rolled_back_at),
        lead_times=len(leads),
        lead_time_median=percentile(leads, 0.5),
        lead_time_p90=percentile(leads, 0.9),
        failures=len(failed),
        restores=len(restores),
        restore_median=percentile(restores, 0.5),
    )
