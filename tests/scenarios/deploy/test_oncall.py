"""The on-call from PagerDuty, end to end: signed `/deploy` requests through Bolt, the PagerDuty
REST and Slack stand-ins, Argo CD's, and the incident thread in #release-ops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.catalog import Catalog
from bot.slack.ids import ActionId
from bot.workers import COMMANDER
from standins.argocd import FakeArgoCD
from standins.pagerduty_rest import FakePagerDutyRest
from standins.slack import FakeSlack
from tests.conftest import SettingsFactory
from tests.scenarios.deploy.world import (
    CATALOG,
    DeployWorld,
    argo_settings,
    fail_release,
    ops_thread,
    running_world,
    settle,
)
from tests.slack.reply import button_in, buttons_in
from tests.waiting import eventually

POLICY = "PWEBAPP"


def with_policy(catalog: Catalog) -> Catalog:
    raw = catalog.model_dump(exclude_unset=True)
    raw["services"]["webapp"]["pagerduty_escalation_policy"] = POLICY
    return Catalog.model_validate(raw)


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDutyRest]:
    async with FakePagerDutyRest() as fake:
        fake.add_user("PONCALL", name="Olu", email="olu@example.com")
        fake.put_on_call("PONCALL", escalation_policy=POLICY, level=1, schedule="PWEEK")
        fake.put_on_call("PLEAD", escalation_policy=POLICY, level=2)
        yield fake


@pytest.fixture
async def world(
    make_settings: SettingsFactory, slack: FakeSlack, argocd: FakeArgoCD, pd: FakePagerDutyRest
) -> AsyncIterator[DeployWorld]:
    """The `/deploy` world, with the on-call of webapp's escalation policy in PagerDuty."""
    slack.usergroups["S0BILLING"] = ["U0MEMBER"]
    slack.add_person("U0ONCALL", email="olu@example.com")
    settings = argo_settings(
        make_settings, argocd, pagerduty_api_token=pd.token, pagerduty_api_url=pd.url
    )
    catalog = with_policy(CATALOG)
    async with running_world(settings, slack=slack, argocd=argocd, catalog=catalog) as world:
        yield world


async def test_the_on_call_may_promote_though_not_an_owner(world: DeployWorld) -> None:
    reply = (await world.deploy("promote webapp", user="U0ONCALL")).text
    assert reply.startswith("Promoted: step 2 of 5")
    rollout = world.argocd.app("webapp-prod").rollout
    assert rollout is not None and rollout.weight == 50


async def test_a_stranger_is_still_refused_and_told_who_is_on_call(
    world: DeployWorld, pd: FakePagerDutyRest
) -> None:
    reply = (await world.deploy("pause webapp", user="U0STRANGER")).text
    assert "Only owners of webapp" in reply and "its on-call (<@U0ONCALL>)" in reply
    assert world.writes() == []
    assert len(pd.requests_to("/oncalls")) == 1


async def test_an_on_call_lookup_that_fails_grants_nothing(
    world: DeployWorld, pd: FakePagerDutyRest
) -> None:
    pd.fail_next(500)
    reply = (await world.deploy("promote webapp", user="U0ONCALL")).text
    assert "could not check the on-call of webapp (PagerDuty answered 500" in reply
    assert "refuses changes it cannot authorize" in reply
    assert world.writes() == []


async def test_status_shows_the_on_call(world: DeployWorld) -> None:
    reply = (await world.deploy("status webapp")).text
    assert "On call: <@U0ONCALL> (PagerDuty)" in reply
    assert "Owner: @team-billing" in reply


async def test_status_still_answers_when_pagerduty_does_not(
    world: DeployWorld, pd: FakePagerDutyRest
) -> None:
    pd.fail_next(401)
    reply = (await world.deploy("status webapp")).text
    assert "On-call unknown: PagerDuty refused PAGERDUTY_API_TOKEN" in reply
    assert "Rollout: Paused · step 2 of 5" in reply
    billing = await world.deploy("status billing")  # no escalation policy: no line
    assert "On call" not in billing.text


async def test_a_failed_release_gets_the_on_call_named_commander_once(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    take = button_in(incident.blocks, ActionId.TAKE_COMMAND)  # as it was posted
    job = world.herald.runner.app[COMMANDER]
    await asyncio.gather(job.run(), job.run())
    await job.run()
    named = "<@U0ONCALL> is the incident commander for rel-2 (on call in PagerDuty)."
    await eventually(lambda: any(named in t for t in ops_thread(world, incident)))
    await eventually(lambda: ActionId.TAKE_COMMAND not in buttons_in(incident.blocks))  # named
    later = await world.click(take, user="U0MEMBER")  # a stale button, pressed late
    assert "<@U0ONCALL> took command at" in later.text
    await settle(world.herald)
    assert sum("incident commander" in t for t in ops_thread(world, incident)) == 1


async def test_whoever_took_command_first_keeps_it(world: DeployWorld) -> None:
    incident = await fail_release(world)
    first = await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    assert "You are the incident commander" in first.text
    assert await world.herald.runner.app[COMMANDER].run() == 0
    await settle(world.herald)
    commanders = [t for t in ops_thread(world, incident) if "incident commander" in t]
    assert commanders == [":large_blue_circle: <@U0OWNER> is the incident commander for rel-2."]
