"""`/deploy` while a change freeze holds webapp in prod: the on-call sees it in the status,
promote waits unless an owner or admin breaks glass (audited, announced in #release-ops),
and pause and rollback are never held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.catalog import Catalog
from bot.catalog_freezes import Freeze
from bot.deps import DEPS
from bot.slack.ids import ActionId
from bot.store.tables import AuditRow
from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.conftest import OPS, SettingsFactory
from tests.scenarios.deploy.world import (
    APP,
    CATALOG,
    DeployWorld,
    argo_settings,
    running_world,
)
from tests.waiting import eventually


def frozen_catalog(*, envs: list[str]) -> Catalog:
    now = datetime.now(UTC)
    freeze = Freeze(
        name="payments-incident",
        reason="Payments outage, hands off",
        start=now - timedelta(hours=1),
        end=now + timedelta(days=1),
        envs=envs,
    )
    return CATALOG.model_copy(update={"freezes": [freeze]})


@pytest.fixture
async def world(
    make_settings: SettingsFactory, slack: FakeSlack, argocd: FakeArgoCD
) -> AsyncIterator[DeployWorld]:
    slack.usergroups["S0BILLING"] = ["U0MEMBER"]
    settings = argo_settings(make_settings, argocd)
    catalog = frozen_catalog(envs=["prod"])
    async with running_world(settings, slack=slack, argocd=argocd, catalog=catalog) as world:
        yield world


async def test_status_says_the_service_is_frozen_until_when_and_why(world: DeployWorld) -> None:
    reply = (await world.deploy("status webapp")).text
    assert ":snowflake: *Frozen* until <!date^" in reply
    assert "— payments-incident: Payments outage, hands off" in reply
    assert "Argo CD: Synced" in reply  # everything else is still there


async def test_status_of_an_env_the_freeze_does_not_hold_says_nothing_of_it(
    world: DeployWorld,
) -> None:
    reply = (await world.deploy("status webapp staging")).text
    assert "Frozen" not in reply


async def audited(world: DeployWorld) -> list[tuple[str, str, str, str]]:
    database = world.herald.runner.app[DEPS].database
    async with database.transaction() as session:
        rows = (await session.execute(select(AuditRow).order_by(col(AuditRow.id)))).scalars()
        return [(row.actor, row.action, row.decision, row.outcome) for row in rows]


async def test_promote_waits_for_the_freeze_and_says_how_to_break_glass(
    world: DeployWorld,
) -> None:
    reply = (await world.deploy("promote webapp")).text
    assert "`webapp prod` is frozen until" in reply
    assert "(payments-incident: Payments outage, hands off). Promote waits" in reply
    assert "`/deploy promote webapp prod break-glass REASON`" in reply
    assert world.writes() == []
    assert await audited(world) == [("U0OWNER", "promote", "denied", "refused")]


async def test_an_owner_breaks_glass_with_a_reason_and_the_ops_channel_hears_of_it(
    world: DeployWorld,
) -> None:
    reply = (
        await world.deploy("promote webapp prod break-glass fix for INC-77, checkout down")
    ).text
    assert "Promoted:" in reply
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.weight == 50
    said = "<@U0OWNER> broke glass to promote `webapp prod` during payments-incident"
    await eventually(lambda: any(said in m.text for m in world.slack.posted(OPS)))
    (announcement,) = [m for m in world.slack.posted(OPS) if said in m.text]
    assert announcement.text.endswith(": fix for INC-77, checkout down")
    rows = await audited(world)
    assert ("U0OWNER", "break_glass", "allowed", "done") in rows
    assert rows[-1][:2] == ("U0OWNER", "promote")


async def test_someone_who_may_not_promote_cannot_break_glass_either(world: DeployWorld) -> None:
    reply = (await world.deploy("promote webapp break-glass trust me", user="U0STRANGER")).text
    assert "Only owners of webapp" in reply
    assert world.writes() == []


async def test_pause_and_rollback_are_never_held_by_a_freeze(world: DeployWorld) -> None:
    paused = (await world.deploy("pause webapp")).text
    assert "frozen" not in paused
    confirm = await world.deploy("rollback webapp")
    assert "Abort the canary of `webapp` prod" in confirm.text
    done = await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))
    assert "Aborted the canary" in done.text


async def test_break_glass_belongs_to_promote_alone(world: DeployWorld) -> None:
    ack = await world.send("rollback webapp break-glass because")
    assert "Only `/deploy promote` waits for a freeze" in ack.body
