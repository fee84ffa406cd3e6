"""The daily digest job posts once per day, whichever replica's timer fires first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import DEPS
from bot.examples import example_manifest
from bot.reports.jobs import DigestJob, WeeklyJob
from bot.slack.digest import digest_message
from bot.store.audit import SqlAuditLog
from standins.slack import FakeSlack
from tests.conftest import Herald

RID = "rel-2025-10-02.3"


async def test_digest_posts_once_a_day_in_plain_language(herald: Herald, slack: FakeSlack) -> None:
    manifest = {**example_manifest(), "customer_visible": ["Usage-based pricing for <teams>"]}
    await herald.post_manifest(manifest)
    await herald.post_event(RID, event="release.started")
    await herald.post_event(RID, event="release.deployed")
    database = herald.runner.app[DEPS].database
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    now = datetime.now(UTC)
    jobs = [
        DigestJob(
            database=database,
            client=client,
            audit=SqlAuditLog(database=database),
            channel="CDIGEST",
            clock=lambda: now,
            render=digest_message,
        )
        for _ in range(2)
    ]
    slack.channels.add("CDIGEST")
    ran = await asyncio.gather(*(job.run() for job in jobs))
    assert sorted(ran) == [False, True]
    posted = slack.posted("CDIGEST")
    assert len(posted) == 1
    body = "\n".join(b["text"]["text"] for b in posted[0].blocks if "text" in b)
    assert posted[0].text.startswith("Release digest: 1 release shipped between")
    assert "Release v1.42.0 (prod) shipped" in body
    assert "&lt;teams&gt;" in body


async def test_weekly_report_posts_numbers_and_a_chart_once(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await herald.post_event(RID, event="release.started")
    await herald.post_event(RID, event="release.deployed", lead_time_seconds=28800)
    database = herald.runner.app[DEPS].database
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    now = datetime.now(UTC)
    jobs = [
        WeeklyJob(
            database=database,
            client=client,
            audit=SqlAuditLog(database=database),
            channel="CFEED",
            clock=lambda: now,
        )
        for _ in range(2)
    ]
    ran = await asyncio.gather(*(job.run() for job in jobs))
    assert sorted(ran) == [False, True]
    report = [
        m
        for m in slack.posted("CFEED")
        if "release.planned" not in m.text and "release." not in m.text.split("\n")[0]
    ]
    assert len(report) == 1
    assert "1 deploy" in report[0].text
    assert slack.files and slack.uploads
    assert next(iter(slack.uploads.values())).startswith(b"\x89PNG")
