"""The early watch's numbers (``docs/verdict.md`` §3.6), in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.checkup.evaluators import VerdictPolicy
from bot.domain.checkup.metrics import GRID

__all__ = ["DEFAULT_WATCH_POLICY", "WatchPolicy"]


@dataclass(frozen=True)
class WatchPolicy:
    """Every threshold and window of the watch; each can be overridden (per service, later)."""

    duration: timedelta = timedelta(minutes=15)  # the watch covers [R, R + duration]
    interval: timedelta = timedelta(seconds=15)  # how often it is re-judged (15–30 s)
    window: timedelta = timedelta(minutes=5)  # W = [R, now], at most this long; long burn window
    last: timedelta = timedelta(seconds=60)  # W2's ratio, the short burn window, p95
    # W1: a significant rise over the reference
    delta_red: float = 0.01  # absolute: +1 percentage point
    alpha: float = 0.001
    fisher_below: float = 5.0  # Fisher's exact test when an expected cell is below this
    min_requests_rise: int = 200  # N_W
    # W2: an absolute ceiling over the last minute, at consecutive evaluations
    ceiling: float = 0.05
    min_requests_ceiling: int = 100  # requests in the last minute
    ceiling_evaluations: int = 2
    # W3: fast burn over W and over the last minute
    slo: float = VerdictPolicy.slo  # the target the checkups' burn rule uses
    burn_fast: float = 14.4
    min_requests_burn: int = 100  # N_W
    # W4: health
    restarts_red: int = 2  # container restarts since R
    # yellow
    ratio_warn: float = 0.02  # r_W
    p95_ms: float = 500.0  # over the last minute ...
    min_requests_p95: int = 100  # ... with this many requests in it
    # traffic and hysteresis
    min_requests: int = 100  # fewer in W and nothing fired: inconclusive
    min_requests_green: int = 200  # green is announced only with this many in W
    hold: int = 2  # consecutive evaluations a colour must hold before it is announced
    first_verdict_within: timedelta = timedelta(seconds=60)  # then "unsettled" is announced
    auto_rollback_rules: frozenset[str] = frozenset({"W1", "W2", "W3", "W4"})

    def __post_init__(self) -> None:
        for name in ("window", "last", "interval", "duration"):
            value: timedelta = getattr(self, name)
            if value < GRID or value % GRID:
                raise ValueError(f"{name} must be a positive multiple of {GRID.seconds} s")
        if self.last > self.window:
            raise ValueError("the last-minute window cannot be longer than W")
        if min(self.hold, self.ceiling_evaluations) < 1:
            raise ValueError("hold and ceiling_evaluations need at least one evaluation")


DEFAULT_WATCH_POLICY = WatchPolicy()
