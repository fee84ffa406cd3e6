"""What a checkup measures: its windows, its PromQL templates and the numbers it gathers.

Plain types only. The windows follow ``docs/verdict.md`` §3.2; every timestamp lies on
a 15 s grid (the smallest series step) so the same release replays the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from bot.errors import DomainError

__all__ = [
    "GRID",
    "WEEK",
    "BurnPair",
    "CheckupInputs",
    "MetricsSource",
    "MetricsUnavailable",
    "Points",
    "Series",
    "ServiceQueries",
    "SustainInputs",
    "Window",
    "WindowInputs",
    "Windows",
    "burn_pairs",
    "ceil_to_grid",
    "floor_to_grid",
    "render",
    "windows_for",
]

GRID = timedelta(seconds=15)  # smallest series step; every window boundary lies on it
WARMUP = timedelta(minutes=2)  # the first minutes after a deploy, left out of P
SUSTAIN = timedelta(minutes=5)  # S: the last 5 minutes ...
SUSTAIN_STEP = timedelta(seconds=30)  # ... every 30 s: 11 points
SERIES_POINTS = 60  # step = |P| / 60, so ≥ 50 points per window
WEEK = timedelta(days=7)


class MetricsUnavailable(DomainError):
    """Prometheus cannot be reached at all: the checkup's verdict is UNKNOWN, never green."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- windows ---------------------------------------------------------------------------------


def floor_to_grid(t: datetime) -> datetime:
    """The grid point at or before ``t``."""
    epoch = t.timestamp()
    return datetime.fromtimestamp(epoch - epoch % GRID.total_seconds(), UTC)


def ceil_to_grid(t: datetime) -> datetime:
    """The grid point at or after ``t``."""
    floored = floor_to_grid(t)
    return floored if floored == t else floored + GRID


def _range(d: timedelta) -> str:
    return f"{int(d.total_seconds())}s"


@dataclass(frozen=True)
class Window:
    """A closed time range ``[start, end]``; ``name`` is how findings and errors refer to it."""

    name: str
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def range(self) -> str:
        """The duration as a PromQL range (``"780s"``)."""
        return _range(self.duration)


@dataclass(frozen=True)
class BurnPair:
    """A multiwindow burn-rate condition: both windows at or above the level's threshold."""

    long: str  # window name: "P", "1h", "6h", "24h"
    short: str  # "5m", "30m", "2h"
    level: Literal["fast", "slow", "ticket"]  # VerdictPolicy.burn_<level>
    outcome: Literal["FAIL", "WARN"]


def burn_pairs(checkpoint: timedelta) -> tuple[BurnPair, ...]:
    """The burn-rate table of §3.3 for a checkpoint (< 1h: P-based, < 24h: 1h, else 24h)."""
    if checkpoint < timedelta(hours=1):
        return (BurnPair("P", "5m", "fast", "FAIL"), BurnPair("P", "5m", "slow", "WARN"))
    if checkpoint < timedelta(hours=24):
        return (BurnPair("1h", "5m", "fast", "FAIL"), BurnPair("1h", "5m", "slow", "WARN"))
    return (
        BurnPair("1h", "5m", "fast", "FAIL"),
        BurnPair("6h", "30m", "slow", "FAIL"),
        BurnPair("24h", "2h", "ticket", "WARN"),
    )


def _burn_duration(name: str) -> timedelta:
    unit = {"m": timedelta(minutes=1), "h": timedelta(hours=1)}[name[-1]]
    return int(name[:-1]) * unit


@dataclass(frozen=True)
class Windows:
    """Every window of one checkup (R = release end, T = checkpoint)."""

    release_end: datetime  # R, floored to the grid
    checkpoint: timedelta
    post: Window  # P = [R+warmup, R+T]
    baseline: Window  # B: same length, ending at R
    baseline7: Window  # B7: P shifted back 7 days
    sustain: Window  # S: the last 5 minutes of P
    sustain_points: tuple[datetime, ...]  # S sampled every 30 s: 11 points
    step: timedelta  # series step for P/B/B7: max(15 s, |P|/60) rounded up to the grid
    burn: tuple[Window, ...]  # windows named in burn_pairs(checkpoint), clipped to start ≥ R

    def burn_window(self, name: str) -> Window:
        return next(w for w in self.burn if w.name == name)


def windows_for(
    release_end: datetime, checkpoint: timedelta, *, warmup: timedelta = WARMUP
) -> Windows:
    """The windows of the checkup at ``release_end + checkpoint`` (timezone-aware times)."""
    if release_end.tzinfo is None:
        raise ValueError("release_end must be timezone-aware")
    if checkpoint - warmup < SUSTAIN:
        raise ValueError(f"checkpoint {checkpoint} leaves less than 5 minutes after warmup")
    release = floor_to_grid(release_end)
    post = Window("P", ceil_to_grid(release_end + warmup), floor_to_grid(release_end + checkpoint))
    baseline = Window("B", release - post.duration, release)
    grid = GRID.total_seconds()
    step_s = max(grid, math.ceil(post.duration.total_seconds() / SERIES_POINTS / grid) * grid)
    count = int(SUSTAIN / SUSTAIN_STEP)
    names = dict.fromkeys(n for p in burn_pairs(checkpoint) for n in (p.long, p.short))
    burn = tuple(
        post
        if name == "P"
        else Window(name, max(ceil_to_grid(release_end), post.end - _burn_duration(name)), post.end)
        for name in names
    )
    return Windows(
        release_end=release,
        checkpoint=checkpoint,
        post=post,
        baseline=baseline,
        baseline7=Window("B7", post.start - WEEK, post.end - WEEK),
        sustain=Window("S", post.end - SUSTAIN, post.end),
        sustain_points=tuple(post.end - SUSTAIN + i * SUSTAIN_STEP for i in range(count + 1)),
        step=timedelta(seconds=step_s),
        burn=burn,
    )


# -- queries ---------------------------------------------------------------------------------

_LABELS = 'service="{service}",env="{env}"'
WINDOWED = ("requests", "errors", "kpi", "restarts")  # templates that need {window}


@dataclass(frozen=True)
class ServiceQueries:
    """PromQL templates of one service. Placeholders: ``{service}``, ``{env}``, ``{window}``.

    Count templates (``requests``, ``errors``, ``kpi``, ``restarts``) must give one number:
    how many events happened in ``{window}`` (Herald fills in P, B, S, 1m, ...). Series
    templates (``p95``, ``p99``, ``saturation``, ``health``) give one instant value and are
    sampled over each window. ``None`` switches a metric off.
    """

    # All requests served in {window}.
    requests: str = f"sum(increase(http_requests_total{{{_LABELS}}}[{{window}}]))"
    # Failed (5xx) requests in {window}; an empty answer with traffic means none failed.
    errors: str = f'sum(increase(http_requests_total{{{_LABELS},code=~"5.."}}[{{window}}]))'
    # 95th / 99th percentile latency in seconds over the last minute.
    p95: str | None = (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{_LABELS}}}[1m])))"
    )
    p99: str | None = (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{_LABELS}}}[1m])))"
    )
    # Saturation as a fraction (0..1): CPU used / CPU limit of the busiest pod.
    saturation: str | None = (
        f"max(sum by (pod) (rate(container_cpu_usage_seconds_total{{{_LABELS}}}[1m])) "
        "/ sum by (pod) "
        f'(kube_pod_container_resource_limits{{{_LABELS},resource="cpu"}}))'
    )
    # Business KPI events in {window} (e.g. orders placed); a decrease is bad. Off by default.
    kpi: str | None = None
    # 1 when healthy, 0 when not: every target up (or probe_success, ready).
    health: str | None = f"min(up{{{_LABELS}}})"
    # Container restarts in {window}.
    restarts: str | None = (
        f"sum(increase(kube_pod_container_status_restarts_total{{{_LABELS}}}[{{window}}]))"
    )

    def __post_init__(self) -> None:
        for name in WINDOWED:
            template = getattr(self, name)
            if template is not None and "{window}" not in template:
                raise ValueError(f"query template {name!r} needs a {{window}} placeholder")

    def templates(self) -> dict[str, str]:
        """The templates that are switched on, by field name."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(template: str, *, service: str, env: str, window: str = "1m") -> str:
    """Fill a template's placeholders (label values escaped for PromQL strings)."""
    return (
        template.replace("{service}", _label_value(service))
        .replace("{env}", _label_value(env))
        .replace("{window}", window)
    )


# -- what a checkup gathers ------------------------------------------------------------------

Series = tuple[float, ...]  # values of a range query, in time order (NaN kept)
Points = tuple[float | None, ...]  # the 11 points of S; None = no sample at that point


@dataclass(frozen=True)
class WindowInputs:
    """One window (P, B, B7 or a burn window). ``None`` = not queried or no answer."""

    requests: float | None = None  # increase() over the window
    errors: float | None = None
    kpi_events: float | None = None
    restarts: float | None = None
    p95: Series | None = None  # seconds, every `step`
    p99: Series | None = None
    saturation: Series | None = None
    kpi: Series | None = None  # KPI events per minute
    health: Series | None = None


@dataclass(frozen=True)
class SustainInputs:
    """S: the last 5 minutes as totals and as 11 points (counts per minute, ``increase[1m]``)."""

    requests: float | None = None  # increase() over the 5 minutes
    errors: float | None = None
    requests_points: Points = ()
    errors_points: Points = ()
    p95: Points = ()
    saturation: Points = ()
    kpi: Points = ()
    health: Points = ()


@dataclass(frozen=True)
class CheckupInputs:
    """Everything the evaluators read. ``errors`` maps a ServiceQueries field whose query
    still failed after 2 retries to the reason. With ``baseline_polluted`` (B holds another
    release or an incident) B7 replaces B for every metric. A metric whose post-release
    data is ``None`` was switched off and is not judged."""

    post: WindowInputs = field(default_factory=WindowInputs)
    baseline: WindowInputs = field(default_factory=WindowInputs)
    baseline7: WindowInputs = field(default_factory=WindowInputs)
    sustain: SustainInputs = field(default_factory=SustainInputs)
    burn: Mapping[str, WindowInputs] = field(default_factory=dict)  # by window name
    errors: Mapping[str, str] = field(default_factory=dict)
    baseline_polluted: bool = False

    @property
    def reference(self) -> WindowInputs:
        """The window the post-release numbers are compared with (B, or B7 if polluted)."""
        return self.baseline7 if self.baseline_polluted else self.baseline


class MetricsSource(Protocol):
    async def collect(
        self,
        *,
        queries: ServiceQueries,
        service: str,
        env: str,
        release_end: datetime,
        checkpoint: timedelta,
    ) -> CheckupInputs:
        """Gather the checkup's numbers; raises MetricsUnavailable if Prometheus is unreachable.

        The result has ``baseline_polluted=False``; set it with ``dataclasses.replace``.
        """
        ...
