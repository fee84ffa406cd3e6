"""Scheduled reports: the daily stakeholder digest and the weekly report, once per period
across replicas (a claim per period), posted with the Slack Web API. The digest's Slack
message is built by the renderer the composition root passes in (bot/slack/digest.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.dora.window import DoraWindow
from bot.domain.notes.digest import Digest, build_digest
from bot.domain.ports import AuditLog
from bot.domain.release.lifecycle import EventType
from bot.reports.weekly import (
    DayPoint,
    WeeklyNumbers,
    fill_days,
    post_weekly_report,
    render_trend_chart,
    weekly_report_text,
)
from bot.store.database import Database
from bot.store.dora import dora_report
from bot.store.reporting import failure_symptoms, releases_in_period

log = logging.getLogger(__name__)
WeeklyPoster = Callable[[datetime], Awaitable[None]]
DigestRenderer = Callable[[Digest], dict[str, Any]]  # → chat.postMessage's text and blocks


@dataclass(frozen=True)
class DigestJob:
    database: Database
    client: AsyncWebClient
    audit: AuditLog
    channel: str
    clock: Callable[[], datetime]
    render: DigestRenderer

    async def run(self) -> bool:
        """Post the digest of the last day, unless another replica already did."""
        until = self.clock()
        claim = await self.audit.claim(key=f"digest:{until:%Y-%m-%d}", actor="herald", at=until)
        if not claim.won:
            return False
        since = until - timedelta(days=1)
        releases = await releases_in_period(self.database, since=since, until=until)
        failed = [r.id for r in releases if EventType.FAILED in r.times]
        symptoms = await failure_symptoms(self.database, failed)
        message = self.render(build_digest(releases, since=since, until=until, symptoms=symptoms))
        await self.client.chat_postMessage(
            channel=self.channel,
            text=message["text"],
            blocks=message["blocks"],
            unfurl_links=False,
        )
        log.info("posted the daily digest", extra={"channel": self.channel})
        return True


@dataclass(frozen=True)
class WeeklyJob:
    """The weekly report: the last four weeks per day as a chart, the DORA figures as text."""

    database: Database
    client: AsyncWebClient
    audit: AuditLog
    channel: str
    clock: Callable[[], datetime]
    weeks: int = 4

    async def run(self) -> bool:
        now = self.clock()
        week = now.isocalendar()
        claim = await self.audit.claim(
            key=f"weekly:{week.year}-W{week.week:02d}", actor="herald", at=now
        )
        if not claim.won:
            return False
        numbers = await self.numbers(now)
        await post_weekly_report(
            client=self.client,
            channel=self.channel,
            text=weekly_report_text(numbers),
            chart_png=await asyncio.to_thread(render_trend_chart, numbers.days),
        )
        log.info("posted the weekly report", extra={"channel": self.channel})
        return True

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
        report = await dora_report(self.database, window=DoraWindow.ending(now, timedelta(days=7)))
        return WeeklyNumbers(
            days=fill_days(points, until=now.date(), weeks=self.weeks),
            change_failure_rate=report.change_failure_rate.value,
            lead_time_median_seconds=report.lead_time_median_s.value,
            time_to_restore_median_seconds=report.time_to_restore_median_s.value,
        )
