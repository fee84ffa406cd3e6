"""Signed requests at POST /slack/events through the real Bolt AsyncApp."""

from __future__ import annotations

import time

from standins.slack import FakeSlack
from tests.conftest import Herald
from tests.slack.signed import signed_headers, slash_command

FORM = "application/x-www-form-urlencoded"


async def send(herald: Herald, body: str, headers: dict[str, str]) -> tuple[int, str]:
    async with herald.session.post(
        herald.url + "/slack/events", data=body.encode(), headers=headers
    ) as response:
        return response.status, await response.text()


async def test_signed_deploy_help_lists_usage_and_known_services(herald: Herald) -> None:
    body = slash_command("help")
    status, text = await send(herald, body, signed_headers(body, content_type=FORM))
    assert status == 200
    assert "/deploy status [service] [env]" in text


async def test_bad_signature_is_401_and_nothing_runs(herald: Herald, slack: FakeSlack) -> None:
    body = slash_command("help")
    headers = signed_headers(body, content_type=FORM, secret="not-the-secret")
    status, _ = await send(herald, body, headers)
    assert status == 401


async def test_stale_timestamp_is_401(herald: Herald) -> None:
    body = slash_command("help")
    headers = signed_headers(body, content_type=FORM, timestamp=int(time.time()) - 301)
    assert (await send(herald, body, headers))[0] == 401


async def test_missing_headers_are_401(herald: Herald) -> None:
    body = slash_command("help")
    assert (await send(herald, body, {"Content-Type": FORM}))[0] == 401


async def test_non_numeric_timestamp_is_401_not_500(herald: Herald) -> None:
    body = slash_command("help")
    headers = signed_headers(body, content_type=FORM)
    headers["X-Slack-Request-Timestamp"] = "soon"
    assert (await send(herald, body, headers))[0] == 401


async def test_body_over_one_mebibyte_is_413(herald: Herald) -> None:
    body = slash_command("x" * (1024 * 1024 + 10))
    assert (await send(herald, body, signed_headers(body, content_type=FORM)))[0] == 413


async def test_a_retried_request_acts_once(herald: Herald) -> None:
    body = slash_command("help", trigger_id="111.222.retry")
    headers = signed_headers(body, content_type=FORM)
    first = await send(herald, body, headers)
    retried = await send(herald, body, {**headers, "X-Slack-Retry-Num": "1"})
    assert first[0] == retried[0] == 200
    assert "/deploy status" in first[1]
    assert retried[1] == ""
