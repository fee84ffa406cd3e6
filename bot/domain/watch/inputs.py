"""What one watch evaluation reads: counts over W and its reference, the last minute, health.

The same fields feed the rules whichever comparison Herald could make: the release against
the baseline before it (B, or B7 a week earlier), or, during a canary whose series carry the
pod-template hash, the canary's pods against the stable pods over the same window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.checkup.metrics import WindowInputs
from bot.domain.watch.windows import WatchWindows

__all__ = ["Comparison", "Unavailable", "WatchInputs"]


class Comparison(StrEnum):
    BASELINE = "baseline"  # W against B: as long as W, ending at R
    BASELINE7 = "baseline7"  # W against B7: W a week earlier (B held another release)
    STABLE = "stable"  # the canary's pods against the stable pods, both over W


@dataclass(frozen=True)
class WatchInputs:
    """Everything the watch's rules read at one evaluation. ``window`` and ``last`` are the
    subject (the service, or the canary's pods); ``reference`` is B, B7 or the stable pods
    over W. Only ``requests`` and ``errors`` of the three are set. ``errors`` maps a template
    whose query Prometheus refused to the reason. ``None`` is no answer, or switched off."""

    windows: WatchWindows
    comparison: Comparison = Comparison.BASELINE
    window: WindowInputs = field(default_factory=WindowInputs)  # W: increase() over it
    reference: WindowInputs = field(default_factory=WindowInputs)
    last: WindowInputs = field(default_factory=WindowInputs)  # the last minute: W2, short burn
    p95: float | None = None  # seconds, over the last minute
    health: float | None = None  # the health template now: below 1 is failing (min(up))
    ready: float | None = None  # readiness now: below 1 is a pod not ready
    restarts: float | None = None  # container restarts since R
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return self.windows.at

    @property
    def age(self) -> timedelta:
        return self.windows.age


@dataclass(frozen=True)
class Unavailable:
    """Prometheus could not be reached at ``at`` (``MetricsUnavailable``), or judging failed
    (``source`` "verdict"): the evaluation is UNKNOWN with ``reason``, never green."""

    at: datetime
    reason: str
    source: str = "prometheus"
