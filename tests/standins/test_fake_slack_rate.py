"""The Slack stand-in's per-channel posting limit, as Slack enforces it on chat.postMessage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import FakeSlack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=("CBUSY", "CQUIET"), post_limit_per_channel=1.0, burst=2) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])


async def test_a_burst_beyond_the_allowance_is_told_to_wait_in_that_channel_only(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    for n in range(2):  # a short burst is tolerated
        await client.chat_postMessage(channel="CBUSY", text=f"burst {n}")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="CBUSY", text="one too many")
    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert refused.value.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="CQUIET", text="another channel is not held up")
    assert [m.text for m in slack.posted("CBUSY")] == ["burst 0", "burst 1"]
    assert slack.post_limit is not None
    assert [channel for channel, _ in slack.post_limit.throttled] == ["CBUSY"]


async def test_after_retry_after_the_channel_takes_a_post_again(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    for n in range(2):
        await client.chat_postMessage(channel="CBUSY", text=f"burst {n}")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="CBUSY", text="too soon")
    await asyncio.sleep(1.0)
    await client.chat_postMessage(channel="CBUSY", text="after waiting")
    assert [m.text for m in slack.posted("CBUSY")][-1] == "after waiting"


async def test_edits_are_not_limited_per_channel(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="CBUSY", text="v1")
    for n in range(2, 6):  # chat.update is tier 3, a workspace-wide allowance
        await client.chat_update(channel="CBUSY", ts=posted["ts"], text=f"v{n}")
    assert slack.posted("CBUSY")[0].text == "v5"


async def test_the_limit_is_off_unless_asked_for() -> None:
    async with FakeSlack(channels=("CBUSY",)) as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url, retry_handlers=[])
        for n in range(5):
            await client.chat_postMessage(channel="CBUSY", text=f"{n}")
        assert len(fake.posted("CBUSY")) == 5
        fake.limit_posts_per_channel(1.0, burst=1)
        await client.chat_postMessage(channel="CBUSY", text="first under the limit")
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="CBUSY", text="second within the second")
