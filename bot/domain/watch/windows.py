"""The windows of one watch evaluation (``docs/verdict.md`` §3.6), on the checkups' 15 s grid.

R (the origin) is ``release.started`` for a canary, else ``release.deployed``. Every window
starts no earlier than R rounded up to the grid and ends at the evaluation time rounded down,
and Prometheus is asked at explicit times, so the same evaluation replays the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.checkup.metrics import GRID, WEEK, Window, ceil_to_grid, floor_to_grid
from bot.domain.text import format_duration
from bot.domain.watch.policy import DEFAULT_WATCH_POLICY, WatchPolicy

__all__ = ["WatchWindows", "first_evaluation", "span", "watch_windows"]


def span(d: timedelta) -> str:
    """A window's length as the findings name it: ``5m``, ``2m 30s``, ``45s``."""
    return format_duration(d.total_seconds())


@dataclass(frozen=True)
class WatchWindows:
    """Every window of one evaluation at ``at``."""

    origin: datetime  # R, as recorded
    at: datetime  # the evaluation time, on the grid: every query is asked at it (B: at B's end)
    window: Window  # W = [R, at], at most the policy's `window` long
    last: Window  # the last minute of W (shorter when W is)
    reference: Window  # B: as long as W, ending at R; or B7: W a week earlier
    since_release: Window  # [R, at]: restarts
    baseline_polluted: bool = False  # B holds another release: B7 replaces it

    @property
    def age(self) -> timedelta:
        """How long after R the evaluation looks (``at - R``)."""
        return self.at - self.origin


def first_evaluation(origin: datetime) -> datetime:
    """The earliest time a watch can be judged: one grid step after R."""
    return ceil_to_grid(origin) + GRID


def watch_windows(
    origin: datetime,
    now: datetime,
    *,
    policy: WatchPolicy = DEFAULT_WATCH_POLICY,
    baseline_polluted: bool = False,
) -> WatchWindows:
    """The windows of the evaluation at ``now`` (timezone-aware times, ``now`` no earlier than
    ``first_evaluation(origin)``)."""
    if origin.tzinfo is None or now.tzinfo is None:
        raise ValueError("origin and now must be timezone-aware")
    start, at = ceil_to_grid(origin), floor_to_grid(now)
    if at < start + GRID:
        raise ValueError(f"too early to judge: the first evaluation is at {start + GRID}")
    window = Window("W", max(start, at - policy.window), at)
    last = Window(span(policy.last), max(start, at - policy.last), at)
    if baseline_polluted:
        reference = Window("B7", window.start - WEEK, window.end - WEEK)
    else:
        end = floor_to_grid(origin)
        reference = Window("B", end - window.duration, end)
    return WatchWindows(
        origin=origin,
        at=at,
        window=window,
        last=last,
        reference=reference,
        since_release=Window("R", start, at),
        baseline_polluted=baseline_polluted,
    )
