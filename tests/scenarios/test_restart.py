"""`herald serve` as a real process, killed with SIGKILL: nothing accepted is lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, OPS, SIGNING_SECRET
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow
RID = "rel-2025-10-02.3"
EVENTS = ("started", "deployed", "failed", "rolled_back", "recovered")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HeraldProcess:
    def __init__(self, *, slack: FakeSlack, database: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "HERALD_FEED_CHANNEL": FEED,
            "HERALD_OPS_CHANNEL": OPS,
            "HERALD_DATABASE_URL": f"sqlite:///{database}",
            "HERALD_INGEST_TOKEN": INGEST_TOKEN,
            "HERALD_PORT": str(self.port),
            "HERALD_HOST": "127.0.0.1",
            "HERALD_DELIVERY_POLL_SECONDS": "0.1",
            "HERALD_SLACK_TIMEOUT_SECONDS": "5",
        }
        self.process: asyncio.subprocess.Process | None = None

    async def spawn(
        self, *, stderr: int = asyncio.subprocess.DEVNULL
    ) -> asyncio.subprocess.Process:
        """`herald serve` in its own process, configured only through the environment."""
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )

    async def start(self) -> None:
        self.process = await self.spawn()
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("herald serve did not become ready in 10 s")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def post(self, path: str, body: Mapping[str, object]) -> int:
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + path, json=body, headers=headers) as response,
        ):
            return response.status


@pytest.fixture
async def herald_process(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[HeraldProcess]:
    process = HeraldProcess(slack=slack, database=tmp_path / "herald.db")
    yield process
    if process.process and process.process.returncode is None:
        await process.kill()


async def play(herald: HeraldProcess) -> None:
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
    slack: FakeSlack, herald_process: HeraldProcess
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
    slack: FakeSlack, herald_process: HeraldProcess
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
    slack: FakeSlack, herald_process: HeraldProcess, tmp_path: Path
) -> None:
    await herald_process.start()
    second = HeraldProcess(slack=slack, database=tmp_path / "herald.db")
    process = await second.spawn(stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "Another Herald is already running on" in stderr.decode()
    assert "use PostgreSQL" in stderr.decode()
    await herald_process.kill()  # the OS frees the lock of a killed Herald
    await herald_process.start()
