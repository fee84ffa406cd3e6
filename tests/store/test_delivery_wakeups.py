"""A commit wakes the senders of the channels it wrote to, and only those, at once.

The delivery's poll is set to 30 s here: a message that arrives in seconds was woken for, not
found by a poll."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.release.lifecycle import EventType
from bot.slack.blocks import render_notice
from bot.slack.delivery import SlackDelivery
from bot.store.ledgers import LedgerFactory
from standins.slack import FakeSlack
from tests.store.support import FEED, OPS, Store, advance, register


def posts_to(slack: FakeSlack, channel: str) -> int:
    posts = slack.calls_to("chat.postMessage")
    return sum(1 for call in posts if call.body.get("channel") == channel and call.ok)


async def test_a_commit_wakes_its_channels_senders_whether_asleep_or_not_started(
    store: Store, slack: FakeSlack
) -> None:
    delivery = SlackDelivery(
        database=store.database,
        client=AsyncWebClient(token=slack.token, base_url=slack.api_url),
        clock=lambda: datetime.now(UTC),
        poll_seconds=30,
    )
    woken = Store(
        database=store.database,
        ledgers=LedgerFactory(
            database=store.database,
            render=render_notice,
            channels={"feed": FEED, "ops": OPS},
            clock=store.clock,
            on_commit=delivery.wake,
        ),
        clock=store.clock,
    )
    running = asyncio.create_task(delivery.run())
    try:
        await asyncio.sleep(0.1)  # nothing to send: the run loop sleeps for 30 s
        release_id = (await register(woken)).release.id
        # the feed had no sender: the commit has the run loop start one, which posts at once
        await slack.wait_for(lambda: posts_to(slack, FEED) >= 1, timeout=3)
        await asyncio.sleep(0.3)  # the feed's sender is done and asleep, for 30 s
        announced = posts_to(slack, FEED)

        await advance(woken, release_id, EventType.STARTED, EventType.FAILED)
        await slack.wait_for(lambda: posts_to(slack, OPS) >= 1, timeout=3)  # a new channel
        await slack.wait_for(lambda: posts_to(slack, FEED) > announced, timeout=3)  # asleep
    finally:
        delivery.stop()
        await asyncio.wait_for(running, 5)
