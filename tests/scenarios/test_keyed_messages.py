"""A message a release owns, edited in place through the outbox: one message in the thread,
showing the newest content, whatever Slack does to the calls on the way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col, select

from bot.deps import DEPS
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import text
from bot.examples import example_manifest
from bot.observability import METRICS
from bot.slack.delivery import SlackDelivery
from bot.store import outbox
from bot.store.tables import OutboxRow
from standins.slack import FakeSlack
from standins.slack_messages import SlackMessage
from tests.clock import FakeClock
from tests.conftest import FEED, OPS, Herald, SettingsFactory, start_herald
from tests.waiting import eventually, stays

RID = "rel-2025-10-02.3"
T0 = datetime(2025, 10, 2, 20, 30, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def keyed_note(release: Release, words: str, *, key: str, replaces: bool) -> Notice:
    """What the early watch enqueues: a keyed note in the feed thread, or its new content."""
    return Notice(
        NoticeKind.NOTE,
        Audience.FEED_THREAD,
        release,
        None,
        text=text(words),
        key=key,
        replaces=replaces,
    )


@dataclass
class World:
    """Herald's API and store, and its Slack delivery run by hand on a clock the test moves."""

    herald: Herald
    slack: FakeSlack
    clock: FakeClock
    delivery: SlackDelivery

    async def post_release(self) -> None:
        status, _ = await self.herald.post_manifest(example_manifest())
        assert status == 201
        await self.deliver()

    async def say(self, words: str, *, key: str = "watch", replaces: bool = False) -> None:
        """What the early watch will do: a keyed note in the feed thread, or its new content."""
        async with self.herald.runner.app[DEPS].ledgers() as ledger:
            release = await ledger.get_release(RID)
            assert release is not None
            notice = keyed_note(release, words, key=key, replaces=replaces)
            await ledger.enqueue([notice])

    async def edit(self, words: str, *, key: str = "watch") -> None:
        await self.say(words, key=key, replaces=True)

    async def deliver(self) -> None:
        """Everything due now, channel by channel, as the senders would."""
        for channel in (FEED, OPS):
            while claim := await self.claim(channel):
                await self.delivery.deliver(claim)

    async def claim(self, channel: str = FEED) -> outbox.Claim | None:
        database = self.herald.runner.app[DEPS].database
        return await outbox.claim_next(
            database=database, channel=channel, now=self.clock(), lease=LEASE
        )

    def watch(self) -> list[SlackMessage]:
        """The watch messages in the release's feed thread."""
        root = self.slack.posted(FEED)[0]
        return [m for m in self.slack.replies(FEED, root.ts) if m.text.startswith("watch:")]

    async def updates(self) -> list[tuple[str, str, str | None]]:
        """The outbox's updates: state, content and why they failed."""
        async with self.herald.runner.app[DEPS].database.read() as session:
            rows = await session.execute(
                select(OutboxRow)
                .where(col(OutboxRow.operation) == "update")
                .order_by(col(OutboxRow.id))
            )
            return [(r.state, r.body["text"], r.last_error) for r in rows.scalars()]

    async def metric(self, name: str, **labels: str) -> float:
        async with self.herald.session.get(self.herald.url + "/metrics") as response:
            exposition = await response.text()
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return 0.0


@pytest.fixture
async def world(
    slack: FakeSlack, make_settings: SettingsFactory, database_url: str
) -> AsyncIterator[World]:
    clock = FakeClock(T0)
    runner = await start_herald(
        make_settings(database_url=database_url), clock=clock, deliver=False
    )
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    delivery = SlackDelivery(
        database=runner.app[DEPS].database,
        client=client,
        clock=clock,
        lease=LEASE,
        metrics=runner.app[METRICS],
    )
    async with aiohttp.ClientSession() as session:
        world = World(Herald(runner, session), slack, clock, delivery)
        await world.post_release()
        yield world
    await runner.cleanup()


async def test_the_watch_is_one_message_edited_in_place(world: World) -> None:
    await world.say("watch: starting")
    await world.deliver()
    await world.edit("watch: 1m green")
    await world.deliver()
    await world.edit("watch: 2m green")
    await world.edit("watch: 3m green")  # before the sender came round: 2m never leaves
    await world.deliver()

    [watch] = world.watch()
    assert watch.text == "watch: 3m green"
    assert [edit.text for edit in watch.edits] == ["watch: 1m green", "watch: 3m green"]
    assert [state for state, *_ in await world.updates()] == ["sent", "replaced", "sent"]
    assert len(world.slack.calls_to("chat.postMessage")) == 3  # root, details, the watch
    assert await world.metric("herald_slack_call_seconds_count", method="chat.update") == 2
    assert await world.metric("herald_outbox_depth", sink="slack") == 0
    _, release = await world.herald.call("GET", f"/api/v1/releases/{RID}")
    assert [m["ts"] for m in release["messages"] if m["role"] == "watch"] == [watch.ts]
    assert release["messages_pending"] == 0


async def test_an_update_enqueued_before_its_post_is_delivered_goes_after_it(
    world: World,
) -> None:
    world.slack.rate_limit_next("chat.postMessage", retry_after=1)
    await world.say("watch: starting")
    await world.edit("watch: 1m green")
    await world.deliver()
    assert world.watch() == [] and world.slack.calls_to("chat.update") == []

    world.clock.advance(timedelta(seconds=1))
    await world.deliver()
    [watch] = world.watch()
    assert (watch.text, len(watch.edits)) == ("watch: 1m green", 1)


async def test_slack_refusing_the_update_kills_it_and_says_so(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.say("watch: starting")
    await world.deliver()
    world.slack.refuse_next("chat.update", "message_not_found")  # someone deleted it
    await world.edit("watch: 1m green")
    await world.deliver()

    assert await world.updates() == [("dead", "watch: 1m green", "message_not_found")]
    assert "message_not_found" in caplog.text
    [watch] = world.watch()
    assert (watch.text, watch.edits) == ("watch: starting", [])
    assert len(world.slack.calls_to("chat.postMessage")) == 3, "no new message instead"
    assert await world.metric("herald_outbox_dead", sink="slack") == 1
    errors = {"method": "chat.update", "error": "message_not_found"}
    assert await world.metric("herald_slack_call_errors_total", **errors) == 1


@pytest.mark.parametrize("error", ["cant_update_message", "edit_window_closed"])
async def test_an_update_slack_will_never_take_is_not_retried(world: World, error: str) -> None:
    await world.say("watch: starting")
    await world.deliver()
    world.slack.refuse_next("chat.update", error)
    await world.edit("watch: 1m green")
    await world.deliver()
    world.clock.advance(timedelta(hours=1))
    await world.deliver()
    assert await world.updates() == [("dead", "watch: 1m green", error)]
    assert len(world.slack.calls_to("chat.update")) == 1


async def test_an_update_slack_may_have_applied_is_sent_again(world: World) -> None:
    await world.say("watch: starting")
    await world.deliver()
    world.slack.fail_next("chat.update", status=500)
    await world.edit("watch: 1m green")
    await world.deliver()
    world.clock.advance(timedelta(seconds=1))
    await world.deliver()
    world.slack.drop_after_post_next("chat.update")  # applied, but the answer is lost
    await world.edit("watch: 2m green")
    await world.deliver()
    world.clock.advance(timedelta(seconds=1))
    await world.deliver()

    [watch] = world.watch()
    assert watch.text == "watch: 2m green"
    assert [e.text for e in watch.edits] == [
        "watch: 1m green",
        "watch: 2m green",
        "watch: 2m green",
    ]
    assert [c.ok for c in world.slack.calls_to("chat.update")] == [False, True, True, True]
    assert [state for state, *_ in await world.updates()] == ["sent", "sent"]
    assert world.slack.calls_to("conversations.replies") == [], "an edit needs no search"


async def test_an_update_whose_sender_died_is_sent_again_after_its_lease(world: World) -> None:
    await world.say("watch: starting")
    await world.deliver()
    await world.edit("watch: 1m green")
    assert await world.claim() is not None  # a sender took it, then died mid-call
    await world.deliver()
    assert world.slack.calls_to("chat.update") == [], "the lease still holds"

    world.clock.advance(LEASE + timedelta(seconds=1))
    await world.deliver()
    [watch] = world.watch()
    assert (watch.text, len(watch.edits)) == ("watch: 1m green", 1)
    assert world.slack.calls_to("conversations.replies") == []


async def test_an_update_with_no_message_to_edit_is_dead(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.edit("watch: 1m green", key="never_posted")
    world.slack.refuse_next("chat.postMessage", "invalid_blocks")
    await world.say("watch: starting")
    await world.edit("watch: 2m green")  # its post fails for good
    await world.deliver()

    assert [(state, error) for state, _, error in await world.updates()] == [
        (
            "dead",
            f"release {RID} has no message under key 'never_posted' to update "
            "(its post failed for good, or none was enqueued before this update)",
        ),
        (
            "dead",
            f"release {RID} has no message under key 'watch' to update "
            "(its post failed for good, or none was enqueued before this update)",
        ),
    ]
    assert "update has no message to edit" in caplog.text
    assert world.watch() == [] and world.slack.calls_to("chat.update") == []


async def test_a_running_herald_edits_the_message_in_place(
    herald: Herald, slack: FakeSlack
) -> None:
    """The senders of `herald serve`, woken by each commit: coalescing may or may not apply."""
    assert (await herald.post_manifest(example_manifest()))[0] == 201
    ledgers = herald.runner.app[DEPS].ledgers
    contents = ["watch: starting", "watch: 1m green", "watch: 2m green", "watch: 3m yellow"]
    for n, words in enumerate(contents):
        async with ledgers() as ledger:
            release = await ledger.get_release(RID)
            assert release is not None
            notice = keyed_note(release, words, key="watch", replaces=n > 0)
            await ledger.enqueue([notice])

    def watch() -> list[SlackMessage]:
        root = slack.posted(FEED)[0]
        return [m for m in slack.replies(FEED, root.ts) if m.text.startswith("watch:")]

    await eventually(lambda: [m.text for m in watch()] == ["watch: 3m yellow"])
    await stays(lambda: len(watch()) == 1, seconds=0.2)
    assert 1 <= len(watch()[0].edits) <= 3
