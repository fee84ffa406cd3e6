"""Watch inputs for the rule and hysteresis tests: a quiet release, changed one field at a time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.domain.checkup.metrics import WindowInputs
from bot.domain.watch.inputs import Comparison, WatchInputs
from bot.domain.watch.windows import watch_windows

R = datetime.fromtimestamp(1_700_003_700, UTC)  # on the grid
Counts = tuple[float, float]  # (requests, errors)


def at(seconds: float) -> datetime:
    return R + timedelta(seconds=seconds)


def inputs(
    *,
    age: float = 120,
    window: Counts = (1000, 2),
    reference: Counts = (1000, 2),
    last: Counts = (400, 1),
    p95: float | None = 0.2,
    health: float | None = 1.0,
    ready: float | None = 1.0,
    restarts: float | None = 0.0,
    comparison: Comparison = Comparison.BASELINE,
    errors: Mapping[str, str] | None = None,
) -> WatchInputs:
    """A quiet release ``age`` seconds after R: 0.2 % errors in W and in its reference, 0.25 %
    over the last minute, p95 200 ms, healthy."""
    polluted = comparison is Comparison.BASELINE7
    return WatchInputs(
        windows=watch_windows(R, at(age), baseline_polluted=polluted),
        comparison=comparison,
        window=WindowInputs(requests=window[0], errors=window[1]),
        reference=WindowInputs(requests=reference[0], errors=reference[1]),
        last=WindowInputs(requests=last[0], errors=last[1]),
        p95=p95,
        health=health,
        ready=ready,
        restarts=restarts,
        errors=errors or {},
    )
