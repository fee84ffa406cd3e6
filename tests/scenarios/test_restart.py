"""`herald serve` as a real process, killed with SIGKILL: nothing accepted is lost or doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, OPS
from tests.herald_process import HeraldServer
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow
RID = "rel-2025-10-02.3"
EVENTS = ("started", "deployed", "failed", "rolled_back", "recovered")


@pytest.fixture
async def herald_process(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[HeraldServer]:
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db")
    yield server
    if server.running:
        await server.kill()


async def play(herald: HeraldServer) -> None:
    assert await herald.post("/api/v1/releases", example_manifest()) == 201
    for step in EVENTS:
        body = {"event": f"release.{step}"}
        assert await herald.post(f"/api/v1/releases/{RID}/events", body) == 201


def assert_delivered_once(slack: FakeSlack) -> None:
    feed = slack.posted(FEED)
    assert [m.text.split(" | ")[0].split(" ")[1] for m in feed] == [
        "release.planned",
        *(f"release.{e}" for e in EVENTS),
    ]
    assert len(slack.replies(FEED, feed[0].ts)) == 2  # details, then the release notes
    ops = slack.posted(OPS)
    assert len(ops) == 1
    assert len(slack.replies(OPS, ops[0].ts)) == 2


async def test_restart_during_a_slack_outage_loses_and_doubles_nothing(
    slack: FakeSlack, herald_process: HeraldServer
) -> None:
    slack.set_outage(True)
    await herald_process.start()
    await play(herald_process)
    await stays(lambda: slack.messages(FEED) == [], seconds=0.5)
    await herald_process.kill()
    assert slack.messages(FEED) == []

    slack.set_outage(False)
    await herald_process.start()
    await eventually(lambda: len(slack.messages(OPS)) == 3, timeout=20)
    await stays(lambda: len(slack.messages(OPS)) == 3, seconds=0.5)
    assert_delivered_once(slack)


async def test_killed_while_a_post_is_in_flight_the_post_is_not_repeated(
    slack: FakeSlack, herald_process: HeraldServer
) -> None:
    slack.delay_next("chat.postMessage", seconds=3.0)
    await herald_process.start()
    assert await herald_process.post("/api/v1/releases", example_manifest()) == 201
    # Slack records a call when it answers it: the post is sent at once, answered in 3 s
    await stays(lambda: slack.calls_to("chat.postMessage") == [], seconds=1.0)
    await herald_process.kill()  # Slack is still working on the post
    await eventually(lambda: len(slack.posted(FEED)) == 1, timeout=5)

    await herald_process.start()
    for step in EVENTS:
        body = {"event": f"release.{step}"}
        assert await herald_process.post(f"/api/v1/releases/{RID}/events", body) == 201
    await eventually(lambda: len(slack.messages(OPS)) == 3, timeout=20)
    await stays(lambda: len(slack.messages(OPS)) == 3, seconds=0.5)
    assert_delivered_once(slack)
    assert slack.calls_to("conversations.history"), "the ambiguous post was looked up"


async def test_a_second_herald_on_the_same_sqlite_file_refuses_to_start(
    slack: FakeSlack, herald_process: HeraldServer, tmp_path: Path
) -> None:
    await herald_process.start()
    second = HeraldServer(slack=slack, database=tmp_path / "herald.db")
    refused = await second.serve_once(within=30)
    assert refused.code == 2
    assert "Another Herald is already running on" in refused.err
    assert "use PostgreSQL" in refused.err
    await herald_process.kill()  # the OS frees the lock of a killed Herald
    await herald_process.start()
