"""The weekly report: a PNG trend chart and the numbers as text (sent: test_scheduled_reports)."""

from __future__ import annotations

import base64
import json
import struct
from datetime import date, timedelta

from bot.reports.weekly import (
    CHART_FILENAME,
    DayPoint,
    WeeklyNumbers,
    chart_upload,
    fill_days,
    render_trend_chart,
    weekly_report_text,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SUNDAY = date(2025, 10, 5)


def points() -> list[DayPoint]:
    given = [
        DayPoint(SUNDAY - timedelta(days=20), 5, 1),
        DayPoint(SUNDAY - timedelta(days=9), 2, 0),
        DayPoint(SUNDAY - timedelta(days=3), 4, 2),
    ]
    return fill_days(given, until=SUNDAY, weeks=4)


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_fill_days_gives_one_point_per_day() -> None:
    filled = points()
    assert len(filled) == 28
    assert filled[0].day == date(2025, 9, 8) and filled[-1].day == SUNDAY
    assert sum(p.deploys for p in filled) == 11 and sum(p.failures for p in filled) == 3


def test_trend_chart_is_a_png() -> None:
    chart = render_trend_chart(points())
    assert chart.startswith(PNG_SIGNATURE)
    assert png_size(chart) == (800, 320)
    assert render_trend_chart([]).startswith(PNG_SIGNATURE)  # an empty period still draws


def test_report_text_carries_the_same_numbers() -> None:
    numbers = WeeklyNumbers(
        days=points(),
        change_failure_rate=0.27,
        lead_time_median_seconds=8 * 3600,
        time_to_restore_median_seconds=25 * 60,
    )
    assert weekly_report_text(numbers).splitlines() == [
        "*Weekly release report* · Mon 8 Sep to Sun 5 Oct",
        "11 deploys and 3 failures in total.",
        "Change failure rate 27%; median lead time 8h; median time to restore 25m.",
        "Per week (the chart shows each day):",
        "• Mon 8 Sep to Sun 14 Sep: 0 deploys, 0 failures",
        "• Mon 15 Sep to Sun 21 Sep: 5 deploys, 1 failure",
        "• Mon 22 Sep to Sun 28 Sep: 2 deploys, 0 failures",
        "• Mon 29 Sep to Sun 5 Oct: 4 deploys, 2 failures",
    ]
    assert "No deploys recorded" in weekly_report_text(WeeklyNumbers(days=[]))


def test_a_report_sent_late_says_so_under_its_title() -> None:
    late = "Sent late: Herald was not running at 09:00 UTC on Mon 6 Oct."
    lines = weekly_report_text(WeeklyNumbers(days=points(), late=late)).splitlines()
    assert lines[:2] == ["*Weekly release report* · Mon 8 Sep to Sun 5 Oct", f"_{late}_"]


def test_the_chart_travels_in_the_outbox_as_its_png() -> None:
    chart = render_trend_chart(points())
    body = chart_upload(chart)
    assert base64.b64decode(body["file_b64"]) == chart
    assert body["filename"] == CHART_FILENAME
    assert json.loads(json.dumps(body)) == body  # a JSON column holds it
