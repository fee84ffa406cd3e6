"""The scheduled reports: the daily stakeholder digest and the weekly report, each period
prepared here and sent once through the outbox (bot/reports/periods.py). The digest's Slack
message is built by the renderer the composition root passes in (bot/slack/digest.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.dora.window import DoraWindow
from bot.domain.flags.stale import stale_flags
from bot.domain.notes.digest import Digest, build_digest
from bot.domain.release.lifecycle import EventType
from bot.reports.periods import Period, report_metadata
from bot.reports.weekly import (
    DayPoint,
    WeeklyNumbers,
    chart_upload,
    fill_days,
    render_trend_chart,
    weekly_report_text,
)
from bot.store.coordination import coordination_counts
from bot.store.database import Database
from bot.store.dora import dora_report
from bot.store.releases import SqlReleaseReader
from bot.store.reporting import failure_symptoms, releases_in_period
from bot.store.reports import UPLOAD, ReportMessage

# → chat.postMessage's text and blocks; the note (when sent late) says so at the top
DigestRenderer = Callable[[Digest, str | None], dict[str, Any]]
WEEKLY_ROOT = "weekly_root"


@dataclass(frozen=True)
class DigestReport:
    """The day before the digest's time, in plain language."""

    database: Database
    render: DigestRenderer
    kind: str = "digest"

    def key(self, scheduled: datetime) -> str:
        return f"digest:{scheduled:%Y-%m-%d}"

    async def messages(self, period: Period) -> list[ReportMessage]:
        until = period.scheduled
        since = until - timedelta(days=1)
        releases = await releases_in_period(self.database, since=since, until=until)
        failed = [r.id for r in releases if EventType.FAILED in r.times]
        symptoms = await failure_symptoms(self.database, failed)
        digest = build_digest(releases, since=since, until=until, symptoms=symptoms)
        body = {**self.render(digest, period.late), "metadata": report_metadata(period)}
        return [ReportMessage(role="digest", body=body)]


@dataclass(frozen=True)
class WeeklyReport:
    """The last four weeks per day as a chart (in the report's thread), the DORA figures as
    text, up to the report's time."""

    database: Database
    weeks: int = 4
    kind: str = "weekly"

    def key(self, scheduled: datetime) -> str:
        week = scheduled.isocalendar()
        return f"weekly:{week.year}-W{week.week:02d}"

    async def messages(self, period: Period) -> list[ReportMessage]:
        numbers = replace(await self.numbers(period.scheduled), late=period.late)
        chart = await asyncio.to_thread(render_trend_chart, numbers.days)
        text = {"text": weekly_report_text(numbers), "metadata": report_metadata(period)}
        return [
            ReportMessage(role=WEEKLY_ROOT, body=text),
            ReportMessage(
                role="weekly_chart",
                body=chart_upload(chart),
                thread_role=WEEKLY_ROOT,
                operation=UPLOAD,
            ),
        ]

    async def _flags(self, now: datetime) -> str | None:
        """`Flags to clean up: new_checkout (webapp prod: expired 2026-11-01, owner U0…).`"""
        newest = await SqlReleaseReader(database=self.database).newest_each()
        stale = stale_flags(newest, now=now)
        if not stale:
            return None
        more = f"; and {len(stale) - 10} more" if len(stale) > 10 else ""
        return "Flags to clean up: " + "; ".join(f.describe() for f in stale[:10]) + more + "."

    async def numbers(self, now: datetime) -> WeeklyNumbers:
        since = now - timedelta(weeks=self.weeks)
        releases = await releases_in_period(
            self.database, since=since, until=now, events=(EventType.DEPLOYED, EventType.FAILED)
        )
        deploys: Counter[date] = Counter()
        failures: Counter[date] = Counter()
        for release in releases:
            if (at := release.times.get(EventType.DEPLOYED)) and at >= since:
                deploys[at.date()] += 1
            if (at := release.times.get(EventType.FAILED)) and at >= since:
                failures[at.date()] += 1
        points = [DayPoint(day, deploys[day], failures[day]) for day in deploys | failures]
        week = DoraWindow.ending(now, timedelta(days=7))
        report = await dora_report(self.database, window=week)
        counts = await coordination_counts(self.database, since=now - timedelta(days=7), until=now)
        return WeeklyNumbers(
            days=fill_days(points, until=now.date(), weeks=self.weeks),
            change_failure_rate=report.change_failure_rate.value,
            lead_time_median_seconds=report.lead_time_median_s.value,
            time_to_restore_median_seconds=report.time_to_restore_median_s.value,
            extra=tuple(
                line
                for line in (counts.sentence(), counts.retro_sentence(), await self._flags(now))
                if line
            ),
        )
