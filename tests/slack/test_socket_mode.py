"""With SLACK_APP_TOKEN, Slack traffic arrives over Socket Mode; the HTTP server serves the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import aiohttp
import pytest

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, SettingsFactory, start_herald
from tests.slack.signed import slash_command
from tests.waiting import eventually


@pytest.fixture
async def socket_herald(make_settings: SettingsFactory, slack: FakeSlack) -> AsyncIterator[str]:
    runner = await start_herald(make_settings(slack_app_token=slack.app_token))
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_slash_command_over_socket_mode_is_acked_with_help(
    socket_herald: str, slack: FakeSlack
) -> None:
    payload = dict(parse_qsl(slash_command("help", trigger_id="9.9.socket")))
    ack = await slack.socket_mode.send("slash_commands", payload)
    assert ack["envelope_id"].startswith("env-")
    assert "/deploy status [service] [env]" in ack["payload"]["text"]
    assert slack.calls_to("apps.connections.open")


async def test_http_slack_route_is_off_but_the_api_still_serves(
    socket_herald: str, slack: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{socket_herald}/slack/events", data=b"x") as response:
            assert response.status == 404
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        async with session.post(
            f"{socket_herald}/api/v1/releases", json=example_manifest(), headers=headers
        ) as response:
            assert response.status == 201
    await eventually(lambda: len(slack.posted(FEED)) == 1)
