"""The release manager's calendar: `GET /api/v1/calendar` and the iCalendar feed people
subscribe to, with planned releases, the weekend freeze across a DST change, and what shipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import yaml
from icalendar import Calendar

from bot.catalog import Catalog
from bot.examples import example_manifest
from tests.clock import FakeClock
from tests.conftest import Herald, SettingsFactory, start_herald

NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # a Wednesday
FEED_TOKEN = "cal-read-only-7f3a"
CATALOG = Catalog.model_validate(
    yaml.safe_load(
        """
services:
  webapp: {owners: [U0OWNER01]}
  billing: {owners: [U0OWNER01]}
freezes:
  - name: weekend
    reason: No deploys over the weekend
    rrule: FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=0
    duration: 65h
    timezone: Europe/Berlin
    services: [webapp]
"""
    )
)


@pytest.fixture
async def herald(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[Herald]:
    """On the embedded SQLite and on a real PostgreSQL (`planned_for` is read from the JSON)."""
    settings = make_settings(calendar_token=FEED_TOKEN, database_url=database_url)
    runner = await start_herald(settings, catalog=CATALOG, clock=FakeClock(NOW))
    async with aiohttp.ClientSession() as session:
        herald = Herald(runner, session)
        shipped = example_manifest()  # webapp 1.42.0, shipped today
        planned = {
            **shipped,
            "id": "rel-next",
            "version": "1.43.0",
            "planned_for": "2026-03-31T09:00:00Z",
        }
        other = {
            **shipped,
            "id": "rel-billing",
            "service": "billing",
            "planned_for": "2026-04-02T09:00:00Z",
        }
        for manifest in (shipped, planned, other):
            assert (await herald.post_manifest(manifest))[0] == 201
        for event in ("release.started", "release.deployed"):
            assert (await herald.post_event(shipped["id"], event=event))[0] == 201
        yield herald
    await runner.cleanup()


async def test_the_calendar_lists_planned_frozen_and_shipped_in_time_order(herald: Herald) -> None:
    status, calendar = await herald.call("GET", "/api/v1/calendar?service=webapp")
    assert status == 200
    assert calendar["start"] == "2026-03-18T00:00:00+00:00"  # a week back, six weeks long
    assert calendar["end"] == "2026-04-29T00:00:00+00:00"
    titles = [(e["kind"], e["title"]) for e in calendar["entries"]]
    assert titles[:3] == [
        ("freeze", "Freeze weekend: No deploys over the weekend (webapp)"),  # Fri 20 March
        ("release", "webapp 1.42.0 to prod: deployed"),
        ("freeze", "Freeze weekend: No deploys over the weekend (webapp)"),  # Fri 27 March
    ]
    planned = [e for e in calendar["entries"] if e["kind"] == "planned"]
    assert planned == [
        {
            "kind": "planned",
            "title": "webapp 1.43.0 to prod (planned)",
            "start": "2026-03-31T09:00:00+00:00",
            "service": "webapp",
            "env": "prod",
            "release_id": "rel-next",
        }
    ]
    assert "billing" not in str(calendar["entries"])


async def test_the_ics_feed_parses_back_with_the_freeze_ending_at_eight_in_berlin(
    herald: Herald,
) -> None:
    async with herald.session.get(f"{herald.url}/api/v1/calendar.ics?token={FEED_TOKEN}") as got:
        assert got.status == 200
        assert got.content_type == "text/calendar"
        feed = Calendar.from_ical(await got.read())
    events = {str(e["uid"]): e for e in feed.walk("VEVENT")}
    weekend = events["freeze-weekend-20260327T1400@herald"]
    assert weekend.decoded("dtstart") == datetime(2026, 3, 27, 14, 0, tzinfo=UTC)  # 15:00 CET
    assert weekend.decoded("dtend") == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert (
        str(events["release-rel-billing@herald"]["summary"]) == "billing 1.42.0 to prod (planned)"
    )
    assert (
        str(events["release-rel-2025-10-02.3@herald"]["summary"])
        == "webapp 1.42.0 to prod: deployed"
    )


async def test_the_feed_needs_its_own_token_and_the_calendar_names_a_bad_field(
    herald: Herald,
) -> None:
    async with herald.session.get(f"{herald.url}/api/v1/calendar.ics?token=guess") as got:
        assert got.status == 401
    status, answer = await herald.call("GET", "/api/v1/calendar?weeks=99")
    assert status == 422
    assert answer["details"] == [{"path": "weeks", "message": "a whole number from 1 to 26"}]
