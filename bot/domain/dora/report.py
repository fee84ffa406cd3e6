"""DORA metrics from Herald's own store (docs/design.md §6, docs/verdict.md §2). Pure.

The window is a `bot.domain.dora.window.DoraWindow`; the counts each figure rests on are
`bot.domain.dora.reference.WindowCounts`. Definitions:

- **Deployment frequency**: releases whose `deployed_at` is in the window, per day and per
  week of the window. Always enough data (zero deploys is a true answer), except per week for
  a window shorter than 7 days.
- **Cadence** (fourkeys' bucket): the window is cut into 24-hour periods counted back from its
  end (no calendar, so no time zone), 7-period weeks and 30-period months, partial ones at the
  start dropped. *Daily*: the median week has deploys on ≥ 3 days; *weekly*: the median week
  has ≥ 1 deploy; *monthly*: the median month has ≥ 1 deploy; *yearly*: anything less. Needs a
  window of ≥ 28 days.
- **Lead time**: median and p90 (linear interpolation, PostgreSQL's `percentile_cont`) of
  `lead_time_seconds` of releases deployed in the window: the seconds from the oldest commit
  the manifest names (or the time CI sent) to deployed. Values ≤ 0 are dropped (fourkeys:
  automated pushes). Median needs ≥ 5 values, p90 ≥ 10.
- **Change failure rate**: releases deployed in the window that failed or were rolled back
  (each counted once, however many failure events it had, even if it failed after the window)
  ÷ releases deployed in the window. Needs ≥ 5 deploys.
- **Time to restore**: median of `recovered_at - failed_at` over releases that failed in the
  window and have recovered (a failure during rollout counts too). Failures not recovered are
  reported as `open_failures`, never as a duration. Needs ≥ 3 restores.
- **Rework rate**: releases deployed in the window that were unplanned — the manifest's
  `risk` is `emergency` (a hotfix) — or were rolled back (each counted once) ÷ releases deployed
  in the window. Needs ≥ 5 deploys. (Change types are not used: a release of only `fix`
  changes is usually planned maintenance, not rework.)
- **Rollback rehearsed**: production (`prod`, `production`) releases deployed in the window
  whose version's rollback was rehearsed in another env before the deploy (reported, or the
  same version rolled back there) ÷ production releases deployed in the window. Needs ≥ 5.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from bot.domain.dora.reference import ReleaseFacts, WindowCounts, count_window
from bot.domain.dora.window import (
    MIN_CADENCE_DAYS,
    MIN_WEEK_WINDOW_DAYS,
    MONTH_DAYS,
    WEEK_DAYS,
    Cadence,
    DoraWindow,
)

MIN_LEAD_TIMES = 5
MIN_LEAD_TIMES_P90 = 10
MIN_DEPLOYS_FOR_RATES = 5
MIN_RESTORES = 3
FLAT_WITHIN = 0.05  # a change of at most 5 % of the previous value is flat
HIGHER_IS_BETTER = frozenset(
    {"deploy_frequency_per_day", "deploy_frequency_per_week", "rollback_rehearsed_rate"}
)


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"


# -- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One number, the count it rests on, and whether that count is enough to show it.

    `value` is None when there is not enough data. For rates, `numerator` is how many of the
    `count` releases were counted on top. `needs` is the count the figure requires."""

    value: float | None
    count: int
    enough: bool
    unit: str
    needs: int = 0
    numerator: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": self.value,
            "count": self.count,
            "enough": self.enough,
            "unit": self.unit,
            "needs": self.needs,
        }
        if self.numerator is not None:
            data["numerator"] = self.numerator
        return data


@dataclass(frozen=True)
class CadenceFigure:
    """fourkeys' deployment-frequency bucket; `count` is the number of days with a deploy."""

    value: Cadence | None
    count: int
    enough: bool
    weeks: int
    months: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value.value if self.value else None,
            "count": self.count,
            "enough": self.enough,
            "unit": "deploy days",
            "needs_days": MIN_CADENCE_DAYS,
            "weeks": self.weeks,
            "months": self.months,
        }


@dataclass(frozen=True)
class Trend:
    """How a figure moved since the previous window; None where either side lacks data."""

    direction: Direction | None
    change: float | None  # current - previous
    better: bool | None  # None when flat or unknown

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction.value if self.direction else None,
            "change": self.change,
            "better": self.better,
        }


NO_TREND = Trend(None, None, None)


def trend(current: Figure, previous: Figure | None, *, higher_is_better: bool = False) -> Trend:
    """Up, down or flat (within 5 % of the previous value) against the previous window."""
    if previous is None or current.value is None or previous.value is None:
        return NO_TREND
    change = current.value - previous.value
    if abs(change) <= FLAT_WITHIN * abs(previous.value):
        return Trend(Direction.FLAT, change, None)
    direction = Direction.UP if change > 0 else Direction.DOWN
    return Trend(direction, change, (direction is Direction.UP) == higher_is_better)


@dataclass(frozen=True)
class DoraReport:
    """Every DORA figure for one service (or all), one env (or all) and one window."""

    service: str | None
    env: str | None
    window: DoraWindow
    deploy_frequency_per_day: Figure
    deploy_frequency_per_week: Figure
    frequency_bucket: CadenceFigure
    lead_time_median_s: Figure
    lead_time_p90_s: Figure
    change_failure_rate: Figure
    time_to_restore_median_s: Figure
    rework_rate: Figure
    open_failures: int
    previous: DoraReport | None = None
    # production releases deployed in the window whose rollback was rehearsed before
    rollback_rehearsed_rate: Figure = field(default_factory=lambda: rehearsed_rate(0, 0))

    def figures(self) -> dict[str, Figure]:
        """The numeric figures by name, in display order."""
        return {f.name: v for f in fields(self) if isinstance(v := getattr(self, f.name), Figure)}

    def trends(self) -> dict[str, Trend]:
        before = self.previous.figures() if self.previous else {}
        return {
            name: trend(fig, before.get(name), higher_is_better=name in HIGHER_IS_BETTER)
            for name, fig in self.figures().items()
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every figure with its count and enough flag, trends, previous window."""
        trends = self.trends()
        data: dict[str, Any] = {
            "service": self.service,
            "env": self.env,
            "window": self.window.as_dict(),
            "figures": {
                name: {**fig.as_dict(), "trend": trends[name].as_dict()}
                for name, fig in self.figures().items()
            },
            "frequency_bucket": self.frequency_bucket.as_dict(),
            "open_failures": self.open_failures,
            "previous": None,
        }
        if self.previous is not None:
            prev = self.previous
            data["previous"] = {
                "window": prev.window.as_dict(),
                "figures": {name: fig.as_dict() for name, fig in prev.figures().items()},
                "frequency_bucket": prev.frequency_bucket.as_dict(),
                "open_failures": prev.open_failures,
            }
        return data


# -- from counts to a report ---------------------------------------------------------------


def frequency_bucket(window: DoraWindow, deploy_days: Mapping[int, int]) -> CadenceFigure:
    """fourkeys' daily/weekly/monthly/yearly from deploys per day index."""
    days = window.days
    weeks = int(days // WEEK_DAYS)
    months = max(1, int(days // MONTH_DAYS))
    active = sum(1 for count in deploy_days.values() if count > 0)
    if days < MIN_CADENCE_DAYS:
        return CadenceFigure(None, active, False, weeks, months)
    week_days = [0] * weeks
    week_deploys = [0] * weeks
    month_deploys = [0] * months
    for index, count in deploy_days.items():
        if count <= 0:
            continue
        week, month = index // WEEK_DAYS, index // MONTH_DAYS
        if week < weeks:
            week_days[week] += 1
            week_deploys[week] += count
        if month < months:
            month_deploys[month] += count
    if statistics.median(week_days) >= 3:
        cadence = Cadence.DAILY
    elif statistics.median(week_deploys) >= 1:
        cadence = Cadence.WEEKLY
    elif statistics.median(month_deploys) >= 1:
        cadence = Cadence.MONTHLY
    else:
        cadence = Cadence.YEARLY
    return CadenceFigure(cadence, active, True, weeks, months)


def rehearsed_rate(rehearsed: int, production_deploys: int) -> Figure:
    """Of the production releases deployed, how many had their rollback rehearsed first."""
    return _rate(rehearsed, production_deploys)


def _rate(numerator: int, denominator: int) -> Figure:
    enough = denominator >= MIN_DEPLOYS_FOR_RATES
    return Figure(
        numerator / denominator if enough else None,
        denominator,
        enough,
        "ratio",
        MIN_DEPLOYS_FOR_RATES,
        numerator,
    )


def _sample(value: float | None, count: int, needs: int) -> Figure:
    enough = count >= needs and value is not None
    return Figure(value if enough else None, count, enough, "seconds", needs)


def build_report(
    *,
    service: str | None,
    env: str | None,
    window: DoraWindow,
    counts: WindowCounts,
    previous: WindowCounts | None = None,
) -> DoraReport:
    """Apply the definitions and "not enough data" thresholds to one window's counts."""
    days = window.days
    week_ok = days >= MIN_WEEK_WINDOW_DAYS
    report = DoraReport(
        service=service,
        env=env,
        window=window,
        deploy_frequency_per_day=Figure(counts.deploys / days, counts.deploys, True, "per day"),
        deploy_frequency_per_week=Figure(
            counts.deploys / days * WEEK_DAYS if week_ok else None,
            counts.deploys,
            week_ok,
            "per week",
        ),
        frequency_bucket=frequency_bucket(window, counts.deploy_days),
        lead_time_median_s=_sample(counts.lead_time_median, counts.lead_times, MIN_LEAD_TIMES),
        lead_time_p90_s=_sample(counts.lead_time_p90, counts.lead_times, MIN_LEAD_TIMES_P90),
        change_failure_rate=_rate(counts.failed_deploys, counts.deploys),
        time_to_restore_median_s=_sample(counts.restore_median, counts.restores, MIN_RESTORES),
        rework_rate=_rate(counts.rework_deploys, counts.deploys),
        open_failures=counts.failures - counts.restores,
        rollback_rehearsed_rate=rehearsed_rate(counts.rehearsed_deploys, counts.production_deploys),
    )
    if previous is None:
        return report
    before = build_report(service=service, env=env, window=window.previous(), counts=previous)
    return replace(report, previous=before)


def compute_report(
    releases: Iterable[ReleaseFacts],
    window: DoraWindow,
    *,
    service: str | None = None,
    env: str | None = None,
) -> DoraReport:
    """DORA for `window` and, for the trend, the window before it, from releases in memory."""
    facts = list(releases)
    return build_report(
        service=service,
        env=env,
        window=window,
        counts=count_window(facts, window, service=service, env=env),
        previous=count_window(facts, window.previous(), service=service, env=env),
    )
