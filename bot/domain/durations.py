"""`15m`, `2h`, `3d`: the durations Herald's catalogue and commands take, one parser for all."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`15m` → 15 minutes (s, m, h, d)."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
