"""Services with Slack channels of their own: their releases, threads and incidents land there,
and Slack's one-message-a-second limit in one channel holds up no other channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.catalog import Catalog
from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, OPS, Herald, SettingsFactory, start_herald
from tests.waiting import eventually, stays

WEB_FEED, WEB_OPS, BILLING_OPS, SEARCH_FEED = "CWEBFEED", "CWEBOPS", "CBILLOPS", "CSEARCH"
CATALOG = Catalog.model_validate(
    {
        "services": {
            "webapp": {"channels": {"feed": WEB_FEED, "ops": WEB_OPS}},
            "billing": {"channels": {"ops": BILLING_OPS}},  # its feed stays the global one
            "search": {"channels": {"feed": SEARCH_FEED}},
            "docs": {},
        }
    }
)
CHANNELS = (FEED, OPS, WEB_FEED, WEB_OPS, BILLING_OPS, SEARCH_FEED)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=CHANNELS) as fake:
        yield fake


async def herald_with(settings_for: SettingsFactory, catalog: Catalog) -> AsyncIterator[Herald]:
    runner = await start_herald(settings_for(), catalog=catalog)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    async for running in herald_with(make_settings, CATALOG):
        yield running


def manifest(service: str, rid: str) -> dict[str, Any]:
    return {**example_manifest(), "service": service, "id": rid}


async def announce(herald: Herald, service: str, rid: str, *events: str) -> None:
    assert (await herald.post_manifest(manifest(service, rid)))[0] == 201
    for event in events:
        status, body = await herald.post_event(rid, event=f"release.{event}")
        assert status == 201, body


def headers(slack: FakeSlack, channel: str) -> list[str]:
    """`event | service` of each top-level message in `channel`."""
    return [" | ".join(m.text.splitlines()[0].split(" | ")[:2]) for m in slack.posted(channel)]


def replies(slack: FakeSlack, channel: str, root: int = 0) -> list[str]:
    thread = slack.replies(channel, slack.posted(channel)[root].ts)
    return [m.text.splitlines()[0] for m in thread]


async def test_a_service_with_its_own_channels_gets_its_release_thread_and_incident_there(
    herald: Herald, slack: FakeSlack
) -> None:
    await announce(herald, "webapp", "rel-web-1", "started", "failed", "rolled_back")
    await announce(herald, "docs", "rel-docs-1", "started")
    await eventually(lambda: len(slack.messages(WEB_FEED)) == 5 and len(slack.messages(FEED)) == 3)
    assert headers(slack, WEB_FEED) == [
        ":calendar: release.planned | webapp",
        ":hourglass_flowing_sand: release.started | webapp",
        ":warning: release.failed | webapp",
        ":rewind: release.rolled_back | webapp",
    ]
    assert replies(slack, WEB_FEED)[0].startswith(":page_facing_up: Details")
    await eventually(lambda: len(slack.messages(WEB_OPS)) == 2)
    assert headers(slack, WEB_OPS) == [":warning: release.failed | webapp"]
    assert replies(slack, WEB_OPS) == [
        ":rewind: release.rolled_back | webapp | prod | v1.42.0 (rel-web-1)"
    ]
    assert headers(slack, FEED) == [  # a service without channels keeps the global feed
        ":calendar: release.planned | docs",
        ":hourglass_flowing_sand: release.started | docs",
    ]
    assert replies(slack, FEED)[0].startswith(":page_facing_up: Details")
    assert slack.messages(OPS) == []


async def test_a_service_may_have_only_its_own_ops_channel(
    herald: Herald, slack: FakeSlack
) -> None:
    await announce(herald, "billing", "rel-bill-1", "started", "failed")
    await eventually(
        lambda: len(slack.messages(FEED)) == 4 and len(slack.messages(BILLING_OPS)) == 1
    )
    assert headers(slack, FEED)[-1] == ":warning: release.failed | billing"
    assert headers(slack, BILLING_OPS) == [":warning: release.failed | billing"]
    assert slack.messages(OPS) == []


async def test_a_thread_stays_in_the_channel_it_began_in_when_the_catalog_moves_the_service(
    make_settings: SettingsFactory, slack: FakeSlack
) -> None:
    async for before in herald_with(make_settings, Catalog()):  # webapp in the global feed
        await announce(before, "webapp", "rel-web-1", "started")
        await eventually(lambda: len(slack.messages(FEED)) == 3)
    async for after in herald_with(make_settings, CATALOG):  # now it has channels of its own
        status, _ = await after.post_event("rel-web-1", event="release.deployed")
        assert status == 201
        await eventually(
            lambda: len(slack.messages(WEB_FEED)) == 1 and len(replies(slack, FEED)) == 2
        )
    assert headers(slack, WEB_FEED) == [":rocket: release.deployed | webapp"]  # new top level
    assert replies(slack, FEED)[1].startswith("*Release notes: webapp")  # in the old thread


def texts(slack: FakeSlack, channel: str) -> list[str]:
    return [m.text.splitlines()[0] for m in slack.messages(channel)]


async def test_a_burst_under_slacks_limit_lands_once_in_order_and_no_channel_waits_on_another(
    herald: Herald, slack: FakeSlack
) -> None:
    slack.limit_posts_per_channel(1.0, burst=3)  # as Slack: about one a second per channel
    await announce(herald, "webapp", "rel-web-1", "started")
    await announce(herald, "webapp", "rel-web-2")
    await announce(herald, "search", "rel-search-1", "started")
    await announce(herald, "docs", "rel-docs-1")
    status, _ = await herald.post_event("rel-web-1", event="release.deployed")
    assert status == 201

    await eventually(lambda: len(slack.messages(SEARCH_FEED)) == 3, timeout=5)
    assert len(slack.messages(WEB_FEED)) < 7  # search was not held up behind webapp's queue
    await eventually(lambda: len(slack.messages(WEB_FEED)) == 7, timeout=10)
    await stays(lambda: len(slack.messages(WEB_FEED)) == 7, seconds=0.3)

    assert headers(slack, WEB_FEED) == [
        ":calendar: release.planned | webapp",
        ":hourglass_flowing_sand: release.started | webapp",
        ":calendar: release.planned | webapp",
        ":rocket: release.deployed | webapp",
    ]
    first, second = (slack.replies(WEB_FEED, slack.posted(WEB_FEED)[n].ts) for n in (0, 2))
    assert [m.text.split(" ", 2)[:2] for m in first] == [  # its details, then its notes
        [":page_facing_up:", "Details"],
        ["*Release", "notes:"],
    ]
    assert len(second) == 1
    for channel, count in ((WEB_FEED, 7), (SEARCH_FEED, 3), (FEED, 2)):
        assert len(set(texts(slack, channel))) == len(texts(slack, channel)) == count
    assert slack.post_limit is not None
    throttled = [channel for channel, _ in slack.post_limit.throttled]
    # Slack pushed back once; from then on Herald kept to its pace instead of a 429 a post
    assert 1 <= throttled.count(WEB_FEED) <= 2
    assert slack.messages(OPS) == []


async def test_two_replicas_keep_one_pace_in_a_channel_slack_pushed_back_on(
    make_settings: SettingsFactory, slack: FakeSlack, postgres_url: str
) -> None:
    """Slack's limit is the channel's, not a replica's: once one replica hears a 429 there,
    the other keeps the same pace instead of posting into the limit."""
    slack.limit_posts_per_channel(1.0, burst=3)

    def settings(**overrides: Any) -> Any:
        return make_settings(database_url=postgres_url, **overrides)

    async for first in herald_with(settings, CATALOG):
        async for second in herald_with(settings, CATALOG):
            for n, herald in enumerate((first, second, first, second)):
                await announce(herald, "webapp", f"rel-pace-{n}", "started")

            await eventually(lambda: len(slack.messages(WEB_FEED)) == 12, timeout=20)
            await stays(lambda: len(slack.messages(WEB_FEED)) == 12, seconds=0.5)

    texts_in_feed = texts(slack, WEB_FEED)
    assert len(set(texts_in_feed)) == len(texts_in_feed) == 12  # each once
    assert (
        headers(slack, WEB_FEED)
        == [
            ":calendar: release.planned | webapp",
            ":hourglass_flowing_sand: release.started | webapp",
        ]
        * 4
    )
    assert slack.post_limit is not None
    throttled = [channel for channel, _ in slack.post_limit.throttled]
    assert 1 <= throttled.count(WEB_FEED) <= 2  # one 429, then both replicas kept the pace
