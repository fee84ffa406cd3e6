"""Backoff follows the cause: 429s wait without counting, a message Slack keeps failing on
becomes a dead letter after its bound, says so once in its thread, and frees its channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from bot.deps import DEPS
from bot.examples import example_manifest
from bot.store.tables import OutboxRow
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, Herald, SettingsFactory, start_herald
from tests.waiting import eventually, stays

RID, OTHER = "rel-2025-10-02.3", "rel-2025-10-02.4"
T0 = datetime(2025, 10, 2, 20, 30, tzinfo=UTC)
GIVE_UP = timedelta(seconds=10)  # HERALD_DELIVERY_GIVE_UP_SECONDS (600 by default)


@dataclass
class World:
    """Herald over real HTTP, delivering to the Slack stand-in on a clock the test moves."""

    herald: Herald
    slack: FakeSlack
    clock: FakeClock

    async def release(self, release_id: str = RID, *events: str) -> None:
        status, _ = await self.herald.post_manifest({**example_manifest(), "id": release_id})
        assert status == 201
        for event in events:
            assert (await self.herald.post_event(release_id, event=event))[0] == 201

    async def rows(self, **equal: Any) -> list[OutboxRow]:
        async with self.herald.runner.app[DEPS].database.read() as session:
            statement = select(OutboxRow).order_by(col(OutboxRow.id))
            for name, value in equal.items():
                statement = statement.where(getattr(OutboxRow, name) == value)
            return list((await session.execute(statement)).scalars())

    async def failed_once(self, **equal: Any) -> bool:
        """The message has failed and waits for its next try."""
        rows = await self.rows(**equal)
        return len(rows) == 1 and rows[0].state == "pending" and rows[0].failing_since is not None

    async def outbox_is_empty(self) -> bool:
        return all(r.state in ("sent", "dead") for r in await self.rows())

    async def is_dead(self, **equal: Any) -> bool:
        rows = await self.rows(**equal)
        return len(rows) == 1 and rows[0].state == "dead"

    async def dead_letters(self) -> float:
        return await self.metric("herald_outbox_dead", sink="slack")

    async def metric(self, name: str, **labels: str) -> float:
        async with self.herald.session.get(self.herald.url + "/metrics") as response:
            exposition = await response.text()
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return 0.0

    def texts(self, channel: str = FEED) -> list[str]:
        return [m.text for m in self.slack.messages(channel)]

    def headers(self, channel: str = FEED) -> list[tuple[str, str]]:
        """(release id, event) of each top-level message."""
        out = []
        for message in self.slack.posted(channel):
            payload = (message.metadata or {}).get("event_payload", {})
            out.append((payload.get("id"), payload.get("event")))
        return out

    async def tick_until(self, check: Callable[[], bool], *, step: timedelta) -> None:
        """Move the clock by `step` until `check()` holds (Retry-After passes at once)."""
        async with asyncio.timeout(10):
            while not check():
                self.clock.advance(step)
                await asyncio.sleep(0.02)


@pytest.fixture
async def world(slack: FakeSlack, make_settings: SettingsFactory) -> AsyncIterator[World]:
    clock = FakeClock(T0)
    settings = make_settings(delivery_give_up_seconds=GIVE_UP.total_seconds())
    runner = await start_herald(settings, clock=clock)
    async with aiohttp.ClientSession() as session:
        yield World(Herald(runner, session), slack, clock)
    await runner.cleanup()


def is_started(args: dict[str, Any]) -> bool:
    metadata = args.get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get("event_type") == "release_started"


async def test_a_burst_of_429s_waits_retry_after_and_counts_no_failure(world: World) -> None:
    """Thirty 429s of a second each: three times the bound on failing, yet no failure."""
    world.slack.rate_limit_next("chat.postMessage", retry_after=1, times=30)
    await world.release(RID)
    await world.tick_until(lambda: len(world.slack.messages(FEED)) == 2, step=timedelta(seconds=1))

    assert len([c for c in world.slack.calls_to("chat.postMessage") if not c.ok]) == 30
    assert world.headers() == [(RID, "release.planned")]
    await eventually(lambda: world.outbox_is_empty())
    assert [(r.state, r.attempts, r.failing_since) for r in await world.rows()] == [
        ("sent", 1, None),  # the root: posted on its first counted attempt
        ("sent", 1, None),  # its details in the thread
    ]
    assert not world.slack.calls_to("conversations.history"), "a 429 is not ambiguous"
    await stays(lambda: len(world.slack.calls_to("chat.postMessage")) == 32, seconds=0.2)


async def test_a_message_slack_keeps_failing_becomes_a_dead_letter_and_says_so_once(
    world: World,
) -> None:
    world.slack.fail_when("chat.postMessage", is_started, status=500)
    await world.release(RID, "release.started")
    await eventually(lambda: world.failed_once(event_type="release.started"))
    await world.release(OTHER)  # queued behind the failing message in the feed
    await stays(lambda: world.headers() == [(RID, "release.planned")], seconds=0.3)

    world.clock.advance(GIVE_UP + timedelta(seconds=1))  # the retry after the bound fails too
    await eventually(lambda: (OTHER, "release.planned") in world.headers())
    await eventually(lambda: any("Could not post" in t for t in world.texts()))

    assert world.headers() == [(RID, "release.planned"), (OTHER, "release.planned")]
    root = world.slack.posted(FEED)[0]
    notes = [m.text for m in world.slack.replies(FEED, root.ts) if "Could not post" in m.text]
    assert notes == [
        ":warning: Could not post the `release.started` message to <#CFEED> after 2 attempts: "
        "`internal_error`. It may have reached Slack: a try got no answer."
    ]
    assert len(world.slack.calls_to("conversations.history")) == 1, "looked before reposting"
    assert await world.dead_letters() == 1
    status, body = await world.herald.call("GET", "/api/v1/outbox/dead")
    assert status == 200
    [letter] = body["dead_letters"]
    assert (letter["release_id"], letter["event"], letter["attempts"], letter["error"]) == (
        RID,
        "release.started",
        2,
        "internal_error",
    )
    _, release = await world.herald.call("GET", f"/api/v1/releases/{RID}")
    assert release["dead_letters"] == [letter] and release["messages_pending"] == 0
    await stays(lambda: sum("Could not post" in t for t in world.texts()) == 1, seconds=0.3)


async def test_a_note_about_a_dead_letter_that_dies_itself_leaves_no_note(world: World) -> None:
    """Slack fails everything that names the started event, the note about it included."""
    world.slack.fail_when("chat.postMessage", lambda a: "release.started" in a.get("text", ""))
    await world.release(RID, "release.started")
    await eventually(lambda: world.failed_once(event_type="release.started"))
    world.clock.advance(GIVE_UP + timedelta(seconds=1))
    await eventually(lambda: world.failed_once(role="feed_dead_letter"))
    world.clock.advance(GIVE_UP + timedelta(seconds=1))
    await eventually(lambda: world.is_dead(role="feed_dead_letter"))

    await world.release(OTHER)
    await eventually(lambda: (OTHER, "release.planned") in world.headers())
    await eventually(lambda: world.outbox_is_empty())
    _, body = await world.herald.call("GET", "/api/v1/outbox/dead")
    assert [(d["role"], d["error"]) for d in body["dead_letters"]] == [
        ("feed_dead_letter", "internal_error"),
        ("feed_event", "internal_error"),
    ]
    assert not any("Could not post" in t for t in world.texts())
    assert await world.dead_letters() == 2
    posts = len(world.slack.calls_to("chat.postMessage"))
    world.clock.advance(GIVE_UP * 10)
    await stays(lambda: len(world.slack.calls_to("chat.postMessage")) == posts, seconds=0.3)


async def test_the_dead_letter_api_needs_the_token_and_sane_filters(world: World) -> None:
    assert (await world.herald.call("GET", "/api/v1/outbox/dead", token=None))[0] == 401
    assert (await world.herald.call("GET", "/api/v1/outbox/dead?limit=0"))[0] == 422
    assert (await world.herald.call("GET", "/api/v1/outbox/dead?sink=email"))[0] == 422
    status, body = await world.herald.call("GET", "/api/v1/outbox/dead?sink=pagerduty&limit=5")
    assert (status, body) == (200, {"dead_letters": []})
