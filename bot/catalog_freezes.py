"""The catalogue's `freezes:`: change-freeze windows, one-off or recurring (docs/design.md)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import FreezeWindow, Recurrence, Scope, check_rule, check_zone
from bot.domain.text import parse_duration

_Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
_Duration = Annotated[str, StringConstraints(pattern=r"^(\d+)(m|h|d)$")]
# DTSTART of a series whose `since` is left out; INTERVAL=2 and COUNT count from here.
SERIES_START = datetime(2026, 1, 5)  # a Monday, 00:00 in the window's zone


class Freeze(BaseModel):
    """One window. One-off: `start` and `end` (with their UTC offsets). Recurring: `rrule`
    (RFC 5545, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=15), `duration` and `timezone`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _Name
    reason: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    services: list[_Name] = Field(default_factory=list)  # empty: every service
    envs: list[_Name] = Field(default_factory=list)  # empty: every environment
    start: datetime | None = None
    end: datetime | None = None
    timezone: str = "UTC"
    since: datetime | None = None  # the series' first wall-clock time (DTSTART), no offset
    rrule: str | None = None
    duration: _Duration | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if (problem := check_zone(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("rrule")
    @classmethod
    def _rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "timezone" not in info.data:
            return value
        since = (info.data.get("since") or SERIES_START).replace(tzinfo=None)
        if (problem := check_rule(value, zone=info.data["timezone"], since=since)) is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.rrule is None:
            self._check_one_off()
        elif self.start is not None or self.end is not None or self.duration is None:
            raise ValueError("a recurring freeze has rrule, duration and timezone, no start/end")
        return self

    def _check_one_off(self) -> None:
        if self.start is None or self.end is None or self.duration is not None:
            raise ValueError("a one-off freeze has start and end (or rrule and duration)")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset, e.g. 2026-12-20T18:00:00+01:00")
        if self.end <= self.start:
            raise ValueError("end must be after start")

    def window(self) -> FreezeWindow:
        scope = Scope(frozenset(self.services), frozenset(self.envs))
        if self.rrule is None:
            return FreezeWindow(self.name, self.reason, scope, start=self.start, end=self.end)
        assert self.duration is not None
        recurrence = Recurrence(
            self.rrule,
            self.timezone,
            parse_duration(self.duration),
            (self.since or SERIES_START).replace(tzinfo=None),
        )
        return FreezeWindow(self.name, self.reason, scope, recurrence=recurrence)


def check_freeze_scopes(freezes: list[Freeze], services: set[str]) -> None:
    """Raise naming the first freeze that names a service the catalogue lacks."""
    uses = Counter(freeze.name for freeze in freezes)
    for index, freeze in enumerate(freezes):
        unknown = sorted(set(freeze.services) - services)
        if unknown:
            raise ValueError(f"freezes.{index}.services: unknown service {unknown[0]!r}")
        if uses[freeze.name] > 1:
            raise ValueError(f"freezes.{index}.name: {freeze.name!r} is used twice")


def build_freeze_calendar(freezes: list[Freeze]) -> FreezeCalendar:
    return FreezeCalendar(tuple(freeze.window() for freeze in freezes))
