"""Which report periods are owed, and what a late one says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.reports.schedule import ReportSchedule, late_note

TUE_9 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_daily_schedule_owes_each_day_since_it_first_ran_a_week_back_at_most() -> None:
    daily = ReportSchedule.daily("09:00")
    assert daily.owed(TUE_9, since=TUE_9 - timedelta(hours=1)) == [TUE_9]
    assert daily.owed(TUE_9 - timedelta(seconds=1), since=TUE_9 - timedelta(hours=1)) == []
    assert daily.owed(TUE_9, since=TUE_9) == []  # already running at 09:00 and sent it
    owed = daily.owed(TUE_9 + timedelta(days=30), since=TUE_9 - timedelta(days=60))
    assert len(owed) == 7 and owed[-1] == TUE_9 + timedelta(days=30)
    assert owed == sorted(owed)


def test_a_weekly_schedule_owes_its_day_only() -> None:
    weekly = ReportSchedule.weekly("mon 09:00")
    monday = TUE_9 - timedelta(days=1)
    owed = weekly.owed(TUE_9 + timedelta(days=20), since=TUE_9 - timedelta(days=60))
    assert owed == [monday + timedelta(weeks=2), monday + timedelta(weeks=3)]  # two back
    assert all(at.weekday() == 0 and at.hour == 9 for at in owed)


def test_a_late_report_says_why() -> None:
    down = late_note(
        TUE_9, now=TUE_9 + timedelta(hours=2), running_since=TUE_9 + timedelta(hours=2)
    )
    assert down == "Sent late: Herald was not running at 09:00 UTC on Tue 1 Dec."
    stuck = late_note(
        TUE_9, now=TUE_9 + timedelta(hours=2), running_since=TUE_9 - timedelta(days=1)
    )
    assert stuck == "Sent late: it could not be prepared at 09:00 UTC on Tue 1 Dec."
    assert late_note(TUE_9, now=TUE_9 + timedelta(seconds=40), running_since=TUE_9) is None
