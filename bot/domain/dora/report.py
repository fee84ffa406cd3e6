"""DORA metrics from Herald's own store (docs/design.md §6, docs/verdict.md §2). Pure.

A window is `[start, end)`, whole seconds, compared as instants (time zones do not matter).
The previous window has the same length and ends where this one starts. Definitions:

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
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Risk
from bot.domain.release.model import Release
from bot.domain.text import format_duration
from bot.errors import FieldProblem, InvalidInput

DAY = 86400
WEEK_DAYS = 7
MONTH_DAYS = 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MIN_WEEK_WINDOW_DAYS = 7
MIN_CADENCE_DAYS = 28
MIN_LEAD_TIMES = 5
MIN_LEAD_TIMES_P90 = 10
MIN_DEPLOYS_FOR_RATES = 5
MIN_RESTORES = 3
MAX_WINDOW_DAYS = 366
FLAT_WITHIN = 0.05  # a change of at most 5 % of the previous value is flat

_WINDOW_RE = re.compile(r"^\s*(\d{1,3})\s*([dw])\s*$")
HIGHER_IS_BETTER = frozenset({"deploy_frequency_per_day", "deploy_frequency_per_week"})


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"


def parse_window(text: str) -> timedelta:
    """`30d`, `7d`, `12w`, `90d` → the window's length (1 day to 366 days)."""
    match = _WINDOW_RE.match(text.lower())
    if not match:
        raise InvalidInput(
            f"window {text!r} is not a number of days or weeks, e.g. 30d, 7d, 12w",
            details=[FieldProblem("window", "expected <n>d or <n>w, e.g. 30d")],
        )
    amount, unit = int(match.group(1)), match.group(2)
    days = amount * (WEEK_DAYS if unit == "w" else 1)
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"window {text!r} must be from 1 to {MAX_WINDOW_DAYS} days",
            details=[FieldProblem("window", f"from 1d to {MAX_WINDOW_DAYS}d")],
        )
    return timedelta(days=days)


def epoch_seconds(at: datetime) -> int:
    """Whole seconds since 1970 (floor), exactly: no float on the way."""
    return (at - EPOCH) // timedelta(seconds=1)


@dataclass(frozen=True)
class DoraWindow:
    """`[start, end)` in UTC, whole seconds (sub-second parts are cut off)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"window {name} must be timezone-aware")
            object.__setattr__(self, name, value.astimezone(UTC).replace(microsecond=0))
        if self.start >= self.end:
            raise ValueError("a window must end after it starts")

    @classmethod
    def ending(cls, end: datetime, length: timedelta) -> DoraWindow:
        """The window of `length` ending at `end` (whole seconds, so at `end` cut down)."""
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("window end must be timezone-aware")
        end = end.astimezone(UTC).replace(microsecond=0)
        return cls(end - length, end)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def days(self) -> float:
        return self.length.total_seconds() / DAY

    @property
    def label(self) -> str:
        seconds = int(self.length.total_seconds())
        return f"{seconds // DAY}d" if seconds % DAY == 0 else f"{seconds / 3600:g}h"

    def previous(self) -> DoraWindow:
        """The window of the same length just before this one."""
        return DoraWindow(self.start - self.length, self.start)

    def contains(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def day_index(self, at: datetime) -> int:
        """0 for the last 24 hours before `end`, 1 for the 24 before those, and so on."""
        return (epoch_seconds(self.end) - 1 - epoch_seconds(at)) // DAY

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "label": self.label,
        }


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
    )
    if previous is None:
        return report
    before = build_report(service=service, env=env, window=window.previous(), counts=previous)
    return replace(report, previous=before)


# -- the reference computation, over releases in memory -------------------------------------


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
    return WindowCounts(
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


# -- words and numbers, for the CLI and Slack ----------------------------------------------

LABELS = {
    "deploy_frequency_per_day": "Deployment frequency",
    "deploy_frequency_per_week": "Deployment frequency, weekly",
    "lead_time_median_s": "Lead time, median",
    "lead_time_p90_s": "Lead time, p90",
    "change_failure_rate": "Change failure rate",
    "time_to_restore_median_s": "Time to restore, median",
    "rework_rate": "Rework rate",
}
_COUNTED = {
    "deploy_frequency_per_day": "deploys",
    "deploy_frequency_per_week": "deploys",
    "lead_time_median_s": "lead times",
    "lead_time_p90_s": "lead times",
    "change_failure_rate": "deploys",
    "time_to_restore_median_s": "restores",
    "rework_rate": "deploys",
}
_COUNTED_ON_TOP = {"change_failure_rate": "failed", "rework_rate": "rework"}
ARROWS = {Direction.UP: "↑", Direction.DOWN: "↓", Direction.FLAT: "→"}
NOT_ENOUGH = "not enough data"


def format_value(figure: Figure) -> str:
    """`0.33/day`, `2.3/week`, `8h 20m`, `12.5%`; `not enough data` without a value."""
    value = figure.value
    if value is None:
        return NOT_ENOUGH
    if figure.unit == "per day":
        return f"{value:.2f}/day"
    if figure.unit == "per week":
        return f"{value:.1f}/week"
    if figure.unit == "seconds":
        return format_duration(value)
    if figure.unit == "ratio":
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def format_count(name: str, figure: Figure) -> str:
    """What the figure rests on: `3 failed of 10 deploys`, `4 restores (needs 3)`."""
    noun = _COUNTED.get(name, "")
    text = f"{figure.count} {noun}".strip()
    if figure.numerator is not None and name in _COUNTED_ON_TOP:
        text = f"{figure.numerator} {_COUNTED_ON_TOP[name]} of {text}"
    if not figure.enough and figure.needs:
        text += f", needs {figure.needs}"
    return text


def format_trend(name: str, report: DoraReport) -> str:
    """`↑ from 0.13/day, better`, `→ about 1.00/day`; empty where nothing compares."""
    change = report.trends()[name]
    before = report.previous.figures()[name] if report.previous else None
    if change.direction is None or before is None:
        return ""
    was = format_value(before)
    if change.direction is Direction.FLAT:
        return f"→ about {was}"
    verdict = "better" if change.better else "worse"
    return f"{ARROWS[change.direction]} from {was}, {verdict}"


def format_cadence(report: DoraReport) -> str:
    bucket = report.frequency_bucket
    if bucket.value is None:
        return f"{NOT_ENOUGH} (needs a {MIN_CADENCE_DAYS}-day window)"
    return f"{bucket.value.value} ({bucket.count} days with a deploy)"
