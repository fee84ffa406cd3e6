"""A release coordinator declares freezes once, in local time; Herald knows at any moment
whether a service in an env is frozen, and by which window, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import FreezeWindow, Recurrence, Scope, check_rule, check_zone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Friday 15:00 to Monday 08:00, wall clock.
WEEKEND = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=0;BYSECOND=0"


def weekend_freeze(zone: str, *, services: frozenset[str] = frozenset()) -> FreezeWindow:
    recurrence = Recurrence(WEEKEND, zone, timedelta(hours=65), datetime(2026, 1, 5))
    return FreezeWindow(
        "weekend", "No deploys over the weekend", Scope(services), recurrence=recurrence
    )


def frozen(
    calendar: FreezeCalendar, at: datetime, service: str = "webapp", env: str = "prod"
) -> bool:
    return bool(calendar.holding(service, env, at=at))


def test_a_weekly_freeze_begins_and_ends_on_the_local_wall_clock() -> None:
    calendar = FreezeCalendar((weekend_freeze("Europe/Berlin"),))
    friday = datetime(2026, 3, 13, 15, 0, tzinfo=BERLIN)
    assert not frozen(calendar, friday - timedelta(seconds=1))
    assert frozen(calendar, friday)
    monday = datetime(2026, 3, 16, 8, 0, tzinfo=BERLIN)
    assert frozen(calendar, monday - timedelta(seconds=1))
    assert not frozen(calendar, monday)


def test_across_the_spring_change_the_weekend_still_ends_at_eight_in_berlin() -> None:
    """Summer time starts on Sunday 29 March 2026: the stretch is an hour shorter in UTC."""
    calendar = FreezeCalendar((weekend_freeze("Europe/Berlin"),))
    (occurrence,) = calendar.holding("webapp", "prod", at=datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert occurrence.start == datetime(2026, 3, 27, 14, 0, tzinfo=UTC)  # 15:00 CET
    assert occurrence.end == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert not frozen(calendar, datetime(2026, 3, 30, 8, 0, tzinfo=BERLIN))
    assert frozen(calendar, datetime(2026, 3, 30, 7, 59, tzinfo=BERLIN))


def test_the_same_rule_in_new_york_follows_new_yorks_own_change() -> None:
    """The US changes on 8 March 2026, three weeks before Europe: on Friday 13 March New York
    is on EDT (UTC-4) while Berlin is still on CET."""
    calendar = FreezeCalendar((weekend_freeze("America/New_York"),))
    (occurrence,) = calendar.holding("webapp", "prod", at=datetime(2026, 3, 14, tzinfo=UTC))
    assert occurrence.start == datetime(2026, 3, 13, 19, 0, tzinfo=UTC)  # 15:00 EDT
    before_the_change = calendar.holding("webapp", "prod", at=datetime(2026, 3, 7, tzinfo=UTC))
    assert before_the_change[0].start == datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # 15:00 EST
    assert frozen(calendar, datetime(2026, 3, 13, 15, 0, tzinfo=NEW_YORK))
    assert not frozen(calendar, datetime(2026, 3, 13, 14, 59, tzinfo=NEW_YORK))


def test_a_one_off_freeze_holds_only_its_services_and_envs() -> None:
    window = FreezeWindow(
        "black-friday",
        "Peak traffic",
        Scope(frozenset({"checkout"}), frozenset({"prod"})),
        start=datetime(2026, 11, 27, tzinfo=UTC),
        end=datetime(2026, 11, 30, tzinfo=UTC),
    )
    calendar = FreezeCalendar((window,))
    at = datetime(2026, 11, 28, tzinfo=UTC)
    assert frozen(calendar, at, "checkout", "prod")
    assert not frozen(calendar, at, "checkout", "staging")
    assert not frozen(calendar, at, "webapp", "prod")
    assert not frozen(calendar, datetime(2026, 11, 30, tzinfo=UTC), "checkout", "prod")
    assert window.scope.describe() == "checkout in prod"


def test_the_calendar_lists_six_weeks_of_stretches_in_time_order() -> None:
    one_off = FreezeWindow(
        "eoy", "End of year", Scope(),
        start=datetime(2026, 12, 20, 17, tzinfo=UTC), end=datetime(2027, 1, 4, 7, tzinfo=UTC),
    )  # fmt: skip
    calendar = FreezeCalendar((weekend_freeze("Europe/Berlin"), one_off))
    start = datetime(2026, 12, 1, tzinfo=UTC)
    stretches = calendar.between(None, None, start=start, end=start + timedelta(weeks=6))
    assert [s.start for s in stretches] == sorted(s.start for s in stretches)
    assert sum(s.name == "weekend" for s in stretches) == 6
    assert sum(s.name == "eoy" for s in stretches) == 1


def test_a_rule_that_never_fires_and_an_unknown_zone_are_refused_with_the_reason() -> None:
    since = datetime(2026, 1, 5)
    assert check_rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", zone="UTC", since=since) == (
        "never fires within 5 years of 2026-01-05"
    )
    assert "not an RFC 5545 RRULE" in (check_rule("FREQ=SOMETIMES", zone="UTC", since=since) or "")
    assert check_rule(WEEKEND, zone="Europe/Berlin", since=since) is None
    assert check_zone("Mars/Olympus_Mons") == (
        "unknown time zone 'Mars/Olympus_Mons' (an IANA name such as Europe/Berlin)"
    )
    assert check_zone("America/New_York") is None
