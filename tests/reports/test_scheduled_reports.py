"""The scheduled reports, sent through Herald's outbox: once per period, whichever replica
gets there first; retried until Slack takes them; sent late, once, after Herald was down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.deps import DEPS
from bot.domain.reports.schedule import ReportSchedule
from bot.examples import example_manifest
from bot.reports.jobs import DigestReport
from bot.reports.periods import Period, ScheduledReport
from bot.slack.digest import digest_message
from bot.store.audit import SqlAuditLog
from bot.store.reports import ReportMessage
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, Herald, SettingsFactory, start_herald
from tests.waiting import eventually, stays

RID = "rel-2025-10-02.3"
DIGEST = "CDIGEST"
TUESDAY_8AM = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # the digest is due at 09:00
MONDAY_8AM = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # so is the weekly report


@dataclass
class ReportWorld:
    slack: FakeSlack
    clock: FakeClock
    make_settings: SettingsFactory
    session: aiohttp.ClientSession
    heralds: list[Herald]
    database_url: str | None = None  # the fixtures' SQLite file unless set

    async def start(self, **overrides: Any) -> Herald:
        if self.database_url:
            overrides.setdefault("database_url", self.database_url)
        settings = self.make_settings(digest_channel=DIGEST, **overrides)
        herald = Herald(await start_herald(settings, clock=self.clock), self.session)
        self.heralds.append(herald)
        await herald.call("GET", "/readyz")
        return herald

    async def stop(self, herald: Herald) -> None:
        self.heralds.remove(herald)
        await herald.runner.cleanup()

    def digests(self) -> list[str]:
        return [m.text for m in self.slack.posted(DIGEST)]


@pytest.fixture
async def world(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[ReportWorld]:
    slack.channels.add(DIGEST)
    async with aiohttp.ClientSession() as session:
        world = ReportWorld(slack, FakeClock(TUESDAY_8AM), make_settings, session, [])
        yield world
        for herald in list(world.heralds):
            await world.stop(herald)


async def ship_a_release(herald: Herald) -> None:
    manifest = {**example_manifest(), "customer_visible": ["Usage-based pricing for <teams>"]}
    assert (await herald.post_manifest(manifest))[0] == 201
    for event in ("release.started", "release.deployed"):
        assert (await herald.post_event(RID, event=event))[0] == 201


def digest_body(world: ReportWorld) -> str:
    [message] = world.slack.posted(DIGEST)
    return "\n".join(b["text"]["text"] for b in message.blocks if "text" in b)


async def test_a_digest_missed_while_herald_was_down_is_sent_late_once_on_start(
    world: ReportWorld,
) -> None:
    herald = await world.start()
    await ship_a_release(herald)
    await world.stop(herald)
    world.clock.advance(timedelta(hours=3))  # down across 09:00

    herald = await world.start()
    await eventually(lambda: len(world.digests()) == 1, timeout=10)
    body = digest_body(world)
    assert "Sent late: Herald was not running at 09:00 UTC on Tue 1 Dec." in body
    assert world.digests()[0].startswith("Release digest: 1 release shipped between")
    assert "Release v1.42.0 (prod) shipped" in body and "&lt;teams&gt;" in body

    await world.stop(herald)
    world.clock.advance(timedelta(minutes=5))
    await world.start()  # a second start sends nothing more
    await stays(lambda: len(world.digests()) == 1, seconds=0.5)


async def test_a_digest_before_herald_ever_ran_is_not_owed(world: ReportWorld) -> None:
    world.clock.advance(timedelta(days=1, hours=3))  # Wed 11:00; Herald first runs now
    await world.start()
    await stays(lambda: world.digests() == [], seconds=0.5)


async def test_a_digest_due_during_a_slack_outage_is_posted_once_when_slack_is_back(
    world: ReportWorld,
) -> None:
    await world.start(checkup_interval_seconds=0.1)  # the reports look every 0.6 s
    world.slack.set_outage(True)
    world.clock.advance(timedelta(hours=1))  # 09:00: due
    await stays(lambda: world.digests() == [], seconds=1.0)
    world.slack.set_outage(False)
    world.clock.advance(timedelta(minutes=1))  # the outbox's retry falls due
    await eventually(lambda: len(world.digests()) == 1, timeout=10)
    await stays(lambda: len(world.digests()) == 1, seconds=0.5)
    assert "Sent late" not in digest_body(world)  # it was queued on time


async def test_two_replicas_due_at_once_send_the_digest_once(world: ReportWorld) -> None:
    herald = await world.start()
    world.clock.advance(timedelta(hours=1, seconds=5))
    database = herald.runner.app[DEPS].database
    replicas = [
        ScheduledReport(
            report=DigestReport(database=database, render=digest_message),
            schedule=ReportSchedule.daily("09:00"),
            channel=DIGEST,
            database=database,
            audit=SqlAuditLog(database=database),
            clock=world.clock,
        )
        for _ in range(2)
    ]
    ran = await asyncio.gather(*(replica.run() for replica in replicas))
    assert sorted(ran) == [0, 1]
    await eventually(lambda: len(world.digests()) == 1, timeout=10)
    await stays(lambda: len(world.digests()) == 1, seconds=0.5)


@pytest.fixture
async def pg_world(world: ReportWorld, postgres_url: str) -> AsyncIterator[ReportWorld]:
    """The world on a real PostgreSQL database; every Herald stops before it is dropped."""
    world.database_url = postgres_url
    yield world
    for herald in list(world.heralds):
        await world.stop(herald)


@pytest.mark.postgres
async def test_two_heralds_on_one_postgresql_send_each_digest_once_late_or_not(
    pg_world: ReportWorld,
) -> None:
    world = pg_world
    first = await world.start(checkup_interval_seconds=0.1)
    await ship_a_release(first)
    second = await world.start(checkup_interval_seconds=0.1)  # a replica, its own connections
    world.clock.advance(timedelta(hours=1))  # 09:00: both look every 0.6 s
    await eventually(lambda: len(world.digests()) == 1, timeout=15)
    await stays(lambda: len(world.digests()) == 1, seconds=1.0)

    for herald in (first, second):
        await world.stop(herald)
    world.clock.advance(timedelta(days=1, hours=3))  # both down across Wednesday 09:00
    for _ in range(2):
        await world.start(checkup_interval_seconds=0.1)
    await eventually(lambda: len(world.digests()) == 2, timeout=15)
    await stays(lambda: len(world.digests()) == 2, seconds=1.0)
    late = world.slack.posted(DIGEST)[1].blocks[0]["text"]["text"]
    assert "Sent late: Herald was not running at 09:00 UTC on Wed 2 Dec." in late


@dataclass
class FlakyReport:
    """Fails to prepare the first time; then a one-line report."""

    failures: int = 1
    kind: str = "flaky"

    def key(self, scheduled: datetime) -> str:
        return f"flaky:{scheduled:%Y-%m-%d}"

    async def messages(self, period: Period) -> list[ReportMessage]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the store was busy")
        return [ReportMessage(role="flaky", body={"text": period.late or "on time"})]


async def test_a_report_that_fails_to_prepare_is_not_claimed_and_is_sent_on_the_next_run(
    world: ReportWorld,
) -> None:
    herald = await world.start()
    database = herald.runner.app[DEPS].database
    report = ScheduledReport(
        report=FlakyReport(),
        schedule=ReportSchedule.daily("09:00"),
        channel=FEED,
        database=database,
        audit=SqlAuditLog(database=database),
        clock=world.clock,
    )
    assert await report.run() == 0  # 08:00: the schedule starts; nothing due
    world.clock.advance(timedelta(hours=1))
    assert await report.run() == 0  # preparing failed: nothing claimed
    world.clock.advance(timedelta(minutes=1))
    assert await report.run() == 1
    assert await report.run() == 0
    await eventually(lambda: [m.text for m in world.slack.posted(FEED)] == ["on time"])


async def test_the_weekly_report_posts_its_numbers_with_the_chart_in_its_thread_once(
    world: ReportWorld,
) -> None:
    world.clock.now = MONDAY_8AM
    herald = await world.start(checkup_interval_seconds=0.1)
    assert (await herald.post_manifest(example_manifest()))[0] == 201
    await herald.post_event(RID, event="release.started")
    await herald.post_event(RID, event="release.deployed", lead_time_seconds=28800)
    world.clock.advance(timedelta(hours=1))

    def reports() -> list[Any]:
        return [m for m in world.slack.posted(FEED) if m.text.startswith("*Weekly release")]

    await eventually(lambda: len(reports()) == 1 and len(world.slack.files) == 1, timeout=10)
    [report] = reports()
    assert "1 deploy and 0 failures in total." in report.text
    assert "Sent late" not in report.text
    [chart] = world.slack.files
    assert chart["thread_ts"] == report.ts  # the chart goes in the report's thread
    assert world.slack.uploads[chart["id"]].startswith(b"\x89PNG")
    await stays(lambda: len(reports()) == 1 and len(world.slack.files) == 1, seconds=1.0)


async def test_a_chart_upload_that_may_have_gone_through_is_not_shared_again(
    world: ReportWorld,
) -> None:
    world.clock.now = MONDAY_8AM
    await world.start(checkup_interval_seconds=0.1, slack_timeout_seconds=1)
    world.slack.delay_next("files.completeUploadExternal", seconds=2.5)  # Herald stops waiting
    world.clock.advance(timedelta(hours=1))
    await eventually(lambda: len(world.slack.files) == 1, timeout=10)  # Slack finished it
    world.clock.advance(timedelta(minutes=5))  # any retry of the upload falls due
    await stays(lambda: len(world.slack.files) == 1, seconds=1.0)
    assert len(world.slack.calls_to("files.completeUploadExternal")) == 1
