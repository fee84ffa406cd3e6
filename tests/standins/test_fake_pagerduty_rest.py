"""The PagerDuty REST stand-in answers `/oncalls` and `/users/{id}` like api.pagerduty.com;
the Slack stand-in finds people by email like Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.pagerduty_rest import FakePagerDutyRest
from standins.slack import FakeSlack

ACCEPT = "application/vnd.pagerduty+json;version=2"


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDutyRest]:
    async with FakePagerDutyRest(token="pd-token") as fake:
        fake.add_user("PALEX", name="Alex", email="alex@example.com")
        fake.put_on_call("PALEX", escalation_policy="PWEB", schedule="PDAY", start="2025-10-02")
        fake.put_on_call("PALEX", escalation_policy="PWEB", schedule="PDAY", start="2025-10-03")
        fake.put_on_call("PBEA", escalation_policy="PWEB", level=2)
        fake.put_on_call("PCY", escalation_policy="POPS")
        yield fake


async def get(
    pd: FakePagerDutyRest, path: str, *, token: str | None = "pd-token", **params: Any
) -> tuple[int, dict[str, Any]]:
    headers = {"Accept": ACCEPT}
    if token is not None:
        headers["Authorization"] = f"Token token={token}"
    query = [(k.replace("__", "[]"), v) for k, values in params.items() for v in values]
    async with (
        aiohttp.ClientSession() as http,
        http.get(pd.url + path, params=query, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_no_token_or_a_wrong_one_gets_pagerdutys_401(pd: FakePagerDutyRest) -> None:
    for token in (None, "wrong"):
        status, body = await get(pd, "/oncalls", token=token)
        assert status == 401
        assert body == {"error": {"message": "Authentication failed", "code": 2006}}


async def test_oncalls_filter_by_policy_and_keep_the_earliest(pd: FakePagerDutyRest) -> None:
    _, everything = await get(pd, "/oncalls")
    assert len(everything["oncalls"]) == 4
    _, web = await get(pd, "/oncalls", escalation_policy_ids__=["PWEB"])
    assert len(web["oncalls"]) == 3
    _, earliest = await get(pd, "/oncalls", escalation_policy_ids__=["PWEB"], earliest=["true"])
    assert [(o["user"]["id"], o["escalation_level"]) for o in earliest["oncalls"]] == [
        ("PALEX", 1),
        ("PBEA", 2),
    ]
    first = earliest["oncalls"][0]
    assert first["start"] == "2025-10-02"
    assert first["user"]["type"] == "user_reference" and "email" not in first["user"]
    assert first["escalation_policy"]["type"] == "escalation_policy_reference"
    assert first["schedule"]["id"] == "PDAY"
    assert (earliest["limit"], earliest["offset"], earliest["more"]) == (25, 0, False)


async def test_include_users_expands_the_user_with_email(pd: FakePagerDutyRest) -> None:
    _, body = await get(pd, "/oncalls", escalation_policy_ids__=["PWEB"], include__=["users"])
    user = body["oncalls"][0]["user"]
    assert (user["type"], user["email"], user["name"]) == ("user", "alex@example.com", "Alex")


async def test_pages_with_limit_and_offset(pd: FakePagerDutyRest) -> None:
    _, body = await get(pd, "/oncalls", limit=["2"], offset=["1"])
    assert len(body["oncalls"]) == 2 and body["more"] is True


async def test_users_by_id(pd: FakePagerDutyRest) -> None:
    status, body = await get(pd, "/users/PALEX")
    assert status == 200 and body["user"]["email"] == "alex@example.com"
    status, body = await get(pd, "/users/PNOPE")
    assert status == 404 and body["error"]["code"] == 2100


async def test_faults(pd: FakePagerDutyRest) -> None:
    pd.fail_next(502)
    assert (await get(pd, "/oncalls"))[0] == 502
    assert (await get(pd, "/oncalls"))[0] == 200
    assert [r.status for r in pd.requests] == [502, 200]


async def test_slack_finds_people_by_email_and_says_users_not_found() -> None:
    async with FakeSlack(emails={"Alex@Example.com": "U0ALEX"}) as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        found = await client.users_lookupByEmail(email="alex@example.com")
        assert found["user"]["id"] == "U0ALEX"
        assert found["user"]["profile"]["email"] == "alex@example.com"
        with pytest.raises(SlackApiError) as caught:
            await client.users_lookupByEmail(email="nobody@example.com")
        assert caught.value.response["error"] == "users_not_found"
