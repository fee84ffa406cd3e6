"""The window DORA figures are computed over, and how a user names one. Pure.

A window is `[start, end)`, whole seconds, compared as instants (time zones do not matter).
A window asked for "now" (`DoraWindow.including`) ends at the first whole second after now,
so what happened this very moment counts.
The previous window has the same length and ends where this one starts. `Cadence` is the
deployment-frequency bucket a window of at least `MIN_CADENCE_DAYS` days gets (see
`bot.domain.dora.report` for how it is chosen).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.errors import FieldProblem, InvalidInput

DAY = 86400
WEEK_DAYS = 7
MONTH_DAYS = 30
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MIN_WEEK_WINDOW_DAYS = 7
MIN_CADENCE_DAYS = 28
MAX_WINDOW_DAYS = 366

_WINDOW_RE = re.compile(r"^\s*(\d{1,3})\s*([dw])\s*$")


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


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

    @classmethod
    def including(cls, now: datetime, length: timedelta) -> DoraWindow:
        """The window of `length` that holds `now`: it ends at the first whole second after
        `now`, so a release deployed this very moment is counted. (`ending` refuses a naive
        `now`: adding a second keeps it naive.)"""
        return cls.ending(now + timedelta(seconds=1), length)

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
