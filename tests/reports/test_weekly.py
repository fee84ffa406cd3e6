"""The weekly report: a PNG trend chart, the numbers as text, both posted to fake Slack."""

from __future__ import annotations

import struct
from datetime import date, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.reports.weekly import (
    CHART_FILENAME,
    DayPoint,
    WeeklyNumbers,
    fill_days,
    post_weekly_report,
    render_trend_chart,
    weekly_report_text,
)
from standins.slack import FakeSlack
from tests.conftest import FEED

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


async def test_post_weekly_report_uploads_the_chart_and_posts_the_text(slack: FakeSlack) -> None:
    chart = render_trend_chart(points())
    text = weekly_report_text(WeeklyNumbers(days=points()))
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    await post_weekly_report(client=client, channel=FEED, text=text, chart_png=chart)

    [message] = slack.posted(FEED)
    assert message.text == text
    assert [c.method for c in slack.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert all(call.ok for call in slack.calls)
    [uploaded] = slack.files
    assert uploaded["name"] == CHART_FILENAME
    assert uploaded["channel_id"] == FEED
    assert uploaded["thread_ts"] == message.ts  # the chart goes in the report's thread
    assert slack.uploads[uploaded["id"]] == chart
    assert uploaded["size"] == len(chart)
