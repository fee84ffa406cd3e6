"""When a scheduled report falls due, and which periods are still owed. Pure.

A schedule is a wall-clock time, every day or on one day of the week, in a time zone
(`zoneinfo`; Herald's settings name UTC times). Each time it falls due is one period, sent
once. A period whose time passed while no Herald was running is still owed for
`catch_up` periods back (never before the schedule first ran): it is sent late, once, and
says so (`late_note`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LATE_AFTER = timedelta(minutes=10)  # sent later than this after its time: the report says so


@dataclass(frozen=True)
class ReportSchedule:
    """Every day (`weekday` None) or every week on `weekday` (0 is Monday), at `at` in `zone`."""

    at: time
    weekday: int | None = None
    catch_up: int = 7  # how many missed periods are still sent late
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def daily(cls, at: str, *, catch_up: int = 7) -> ReportSchedule:
        """`09:00`: every day at 09:00."""
        return cls(at=time.fromisoformat(at), catch_up=catch_up)

    @classmethod
    def weekly(cls, at: str, *, catch_up: int = 2) -> ReportSchedule:
        """`mon 09:00`: every Monday at 09:00."""
        day, clock_time = at.split()
        return cls(
            at=time.fromisoformat(clock_time), weekday=WEEKDAYS.index(day), catch_up=catch_up
        )

    def owed(self, now: datetime, *, since: datetime) -> list[datetime]:
        """The times (UTC) this schedule fell due after `since` and by `now`, the newest
        `catch_up` of them, oldest first."""
        today = now.astimezone(self.zone).date()
        days = self.catch_up * (1 if self.weekday is None else 7) + 1
        times = []
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            at = datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)
            if since < at <= now:
                times.append(at)
        return times[-self.catch_up :] if self.catch_up > 0 else []


def late_note(scheduled: datetime, *, now: datetime, running_since: datetime) -> str | None:
    """`Sent late: Herald was not running at 09:00 UTC on Tue 1 Dec.`, or None when on time."""
    if now - scheduled <= LATE_AFTER:
        return None
    at = scheduled.astimezone(UTC)
    when = f"{at:%H:%M} UTC on {at:%a} {at.day} {at:%b}"
    if running_since > scheduled:
        return f"Sent late: Herald was not running at {when}."
    return f"Sent late: it could not be prepared at {when}."
