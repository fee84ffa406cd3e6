"""Who is on call, from PagerDuty's REST API (the stand-in) and Slack's users.lookupByEmail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.services.oncall import OnCallDirectory, OnCallLookupError
from bot.integrations.pagerduty_oncall import PagerDutyOnCallDirectory, PagerDutyRestClient
from bot.slack.people import SlackPeople
from standins.pagerduty_rest import FakePagerDutyRest
from standins.slack import FakeSlack

POLICY = "PWEBAPP"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDutyRest]:
    async with FakePagerDutyRest() as fake:
        fake.add_user("PALEX", name="Alex", email="alex@example.com")
        fake.add_user("PBEA", name="Bea", email="bea@example.com")
        fake.add_user("PCY", name="Cy", email="cy@example.com")
        fake.put_on_call("PALEX", escalation_policy=POLICY, level=1, schedule="PSCHED1")
        fake.put_on_call("PBEA", escalation_policy=POLICY, level=2, schedule="PSCHED2")
        fake.put_on_call("PCY", escalation_policy="POTHER", level=1)
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


def rest(
    pd: FakePagerDutyRest,
    session: aiohttp.ClientSession,
    *,
    token: str | None = None,
    timeout_seconds: float = 5.0,
) -> PagerDutyRestClient:
    return PagerDutyRestClient(
        session=session,
        base_url=pd.url,
        token=pd.token if token is None else token,
        timeout_seconds=timeout_seconds,
    )


def directory(
    client: PagerDutyRestClient, slack: FakeSlack, ticks: Ticks
) -> PagerDutyOnCallDirectory:
    people = SlackPeople(client=AsyncWebClient(token=slack.token, base_url=slack.api_url))
    policies = {"webapp": POLICY, "search": "POTHER"}
    return PagerDutyOnCallDirectory(
        client=client, people=people, policy_for=policies.get, clock=ticks
    )


def test_the_directory_is_the_domain_port(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    port: OnCallDirectory = directory(rest(pd, session), slack, ticks)
    assert port is not None


async def test_the_first_level_on_call_becomes_slack_users_with_one_request(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    slack.add_person("U0ALEX", email="Alex@Example.com")
    slack.add_person("U0BEA", email="bea@example.com")
    on_call = directory(rest(pd, session), slack, ticks)
    assert await on_call.on_call("webapp") == {"U0ALEX"}  # Bea is level 2
    [request] = pd.requests_to("/oncalls")
    assert ("escalation_policy_ids[]", POLICY) in request.query
    assert ("include[]", "users") in request.query and ("earliest", "true") in request.query
    assert pd.requests_to("/users/PALEX") == []  # the emails came with the on-calls
    assert [c.body["email"] for c in slack.calls_to("users.lookupByEmail")] == ["alex@example.com"]


async def test_someone_missing_from_slack_is_left_out(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    pd.put_on_call("PBEA", escalation_policy=POLICY, level=1)
    slack.add_person("U0BEA", email="bea@example.com")  # Alex has no Slack account
    on_call = directory(rest(pd, session), slack, ticks)
    assert await on_call.on_call("webapp") == {"U0BEA"}
    assert [c.ok for c in slack.calls_to("users.lookupByEmail")].count(False) == 1


async def test_a_service_without_escalation_policy_asks_nobody(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    assert await directory(rest(pd, session), slack, ticks).on_call("billing") == frozenset()
    assert pd.requests == []


async def test_answers_are_cached_per_policy_for_a_minute(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    slack.add_person("U0ALEX", email="alex@example.com")
    slack.add_person("U0CY", email="cy@example.com")
    on_call = directory(rest(pd, session), slack, ticks)
    first = await asyncio.gather(*(on_call.on_call("webapp") for _ in range(5)))
    assert first == [{"U0ALEX"}] * 5
    assert await on_call.on_call("search") == {"U0CY"}  # another policy: its own lookup
    assert len(pd.requests_to("/oncalls")) == 2
    pd.clear_on_call()
    pd.put_on_call("PCY", escalation_policy=POLICY)
    ticks.now += 59
    assert await on_call.on_call("webapp") == {"U0ALEX"}
    ticks.now += 2
    assert await on_call.on_call("webapp") == {"U0CY"}  # the hand-over shows after 60 s
    assert len(pd.requests_to("/oncalls")) == 3


async def test_a_wrong_token_is_a_typed_error_that_names_the_setting(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    on_call = directory(rest(pd, session, token="revoked"), slack, ticks)
    with pytest.raises(OnCallLookupError) as caught:
        await on_call.on_call("webapp")
    assert caught.value.message == (
        "PagerDuty refused PAGERDUTY_API_TOKEN (401: Authentication failed)"
    )
    assert "revoked" not in caught.value.message
    assert [r.status for r in pd.requests] == [401]


async def test_a_timeout_is_a_typed_error_and_is_not_cached(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    slack.add_person("U0ALEX", email="alex@example.com")
    on_call = directory(rest(pd, session, timeout_seconds=0.2), slack, ticks)
    pd.slow_next(1.0)
    with pytest.raises(OnCallLookupError, match=r"PagerDuty did not answer in 0.2 s"):
        await on_call.on_call("webapp")
    assert await on_call.on_call("webapp") == {"U0ALEX"}  # the next call asks again


async def test_server_errors_and_slack_errors_are_typed_errors(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    on_call = directory(rest(pd, session), slack, ticks)
    pd.fail_next(503)
    with pytest.raises(OnCallLookupError, match=r"PagerDuty answered 503"):
        await on_call.on_call("webapp")
    slack.fail_next("users.lookupByEmail", status=500)
    with pytest.raises(OnCallLookupError, match=r"users.lookupByEmail"):
        await on_call.on_call("webapp")


async def test_an_unreachable_pagerduty_is_a_typed_error(
    session: aiohttp.ClientSession, slack: FakeSlack, ticks: Ticks
) -> None:
    async with FakePagerDutyRest() as gone:
        url = gone.url
    client = PagerDutyRestClient(session=session, base_url=url, token="t")
    with pytest.raises(OnCallLookupError, match=r"PagerDuty could not be reached"):
        await directory(client, slack, ticks).on_call("webapp")


async def test_a_user_is_read_by_id_when_needed(
    pd: FakePagerDutyRest, session: aiohttp.ClientSession
) -> None:
    client = rest(pd, session)
    user = await client.user("PBEA")
    assert (user.id, user.name, user.email) == ("PBEA", "Bea", "bea@example.com")
    with pytest.raises(OnCallLookupError, match=r"PagerDuty answered 404: Not Found"):
        await client.user("PNOBODY")
