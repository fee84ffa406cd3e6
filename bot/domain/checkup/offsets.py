"""Checkup offsets: when after a deploy Herald looks, and how it names that moment."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.checkup.metrics import SUSTAIN, WARMUP
from bot.domain.text import format_duration

SHORTEST_OFFSET = WARMUP + SUSTAIN  # the rules judge P = [R+2m, R+T] and its last 5 minutes
LONGEST_OFFSET = timedelta(days=7)  # B7 then reaches 14 days back, inside Prometheus' 15 days
DEFAULT_OFFSETS = (
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=24),
)


def offset_label(offset: timedelta) -> str:
    """`+15m`, `+1h`, `+24h`."""
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0:
        return f"+{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"+{seconds // 60}m"
    return f"+{seconds}s"


def offset_problem(offset: timedelta) -> str | None:
    """Why a checkup at `offset` could not be judged, or None when it can."""
    if offset < SHORTEST_OFFSET:
        return (
            f"{format_duration(offset.total_seconds())} is too early to judge: the verdict "
            f"leaves out {format_duration(WARMUP.total_seconds())} of warm-up and needs a "
            f"{format_duration(SUSTAIN.total_seconds())} sustain window, so the shortest "
            f"checkup offset is {format_duration(SHORTEST_OFFSET.total_seconds())}"
        )
    if offset > LONGEST_OFFSET:
        return (
            f"{format_duration(offset.total_seconds())} is too late to judge: its week-earlier "
            "baseline would lie outside Prometheus' default 15-day retention; the longest "
            f"checkup offset is {format_duration(LONGEST_OFFSET.total_seconds())}"
        )
    return None
