"""A freeze window: one-off (start, end) or recurring (an RFC 5545 RRULE in a named time zone,
each occurrence lasting `duration`), scoped to services and environments.

Recurrence and time zones come from dateutil's rrule and the standard zoneinfo: an occurrence
is a wall-clock time in the window's zone, so "every Friday 15:00 Europe/Berlin" stays 15:00
across a daylight-saving change, whatever its offset from UTC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

# A rule that fires nowhere within this horizon "never fires" (check-config refuses it). Such
# a rule costs dateutil a walk to year 9999 (seconds) once, when the catalogue is checked.
HORIZON = timedelta(days=5 * 366)


@dataclass(frozen=True)
class Scope:
    """Whom a freeze holds: services and environments; empty means every one."""

    services: frozenset[str] = frozenset()
    envs: frozenset[str] = frozenset()

    def holds(self, service: str | None, env: str | None) -> bool:
        """Whether it holds `service` in `env`; None asks about any service or env."""
        held = service is None or not self.services or service in self.services
        return held and (env is None or not self.envs or env in self.envs)

    def describe(self) -> str:
        services = ", ".join(sorted(self.services)) or "all services"
        return f"{services} in {', '.join(sorted(self.envs))}" if self.envs else services


@dataclass(frozen=True)
class Occurrence:
    """One stretch of frozen time, [start, end) in UTC."""

    name: str
    reason: str
    scope: Scope
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Recurrence:
    rule: str  # RRULE body, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=0
    zone: str  # IANA name, e.g. Europe/Berlin
    duration: timedelta
    since: datetime  # naive wall-clock start of the series in `zone` (DTSTART)

    def series(self) -> rrule:
        tz = ZoneInfo(self.zone)
        parsed = rrulestr(self.rule, dtstart=self.since.replace(tzinfo=tz))
        assert isinstance(parsed, rrule)  # a single RRULE, not an rruleset (parse_recurrence)
        return parsed

    def stretches(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """(begins, ends) of each occurrence overlapping [start, end). The duration is
        wall-clock time in the zone: Friday 15:00 plus 65 h is Monday 08:00 across a change
        to summer time too."""
        tz = ZoneInfo(self.zone)
        bounded = self.series().replace(until=end.astimezone(tz))
        for begins in bounded.xafter(start.astimezone(tz) - self.duration, inc=False):
            ends = (begins + self.duration).astimezone(UTC)
            if ends > start:
                yield begins.astimezone(UTC), ends


@dataclass(frozen=True)
class FreezeWindow:
    name: str
    reason: str
    scope: Scope
    start: datetime | None = None  # one-off: aware start and end
    end: datetime | None = None
    recurrence: Recurrence | None = None

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        """Every stretch of this window overlapping [start, end), in time order."""
        if self.recurrence is None:
            assert self.start is not None and self.end is not None
            if self.start < end and start < self.end:
                yield self._occurrence(self.start, self.end)
            return
        for begins, ends in self.recurrence.stretches(start, end):
            yield self._occurrence(begins, ends)

    def _occurrence(self, start: datetime, end: datetime) -> Occurrence:
        return Occurrence(
            self.name, self.reason, self.scope, start.astimezone(UTC), end.astimezone(UTC)
        )


def check_zone(name: str) -> str | None:
    """None, or why `name` is no time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
    return None


def check_rule(rule: str, *, zone: str, since: datetime) -> str | None:
    """None, or why `rule` is no usable recurrence: not RFC 5545, or never firing."""
    try:
        parsed = rrulestr(rule, dtstart=since.replace(tzinfo=ZoneInfo(zone)))
    except (ValueError, TypeError) as exc:
        return f"not an RFC 5545 RRULE: {exc}"
    if not isinstance(parsed, rrule):
        return "one RRULE only"
    limit = since.replace(tzinfo=ZoneInfo(zone)) + HORIZON
    if parsed.replace(until=limit).after(since.replace(tzinfo=ZoneInfo(zone)), inc=True) is None:
        return f"never fires within {HORIZON.days // 366} years of {since:%Y-%m-%d}"
    return None
