"""Checkup offsets: when after a deploy Herald looks, and how it names that moment."""

from __future__ import annotations

from datetime import timedelta

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
