"""A canary aborted, then retried by an operator (`kubectl argo rollouts retry`: same revision,
same step): the claims of the first attempt never block the promote or the abort of the next,
and each click still acts exactly once."""

from __future__ import annotations

import asyncio

from bot.slack.ids import ActionId
from standins.argocd_rollout import FakeRollout
from tests.scenarios.deploy.world import APP, DeployWorld
from tests.slack.reply import Button


def rollout_of(world: DeployWorld) -> FakeRollout:
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None
    return rollout


def aborts(world: DeployWorld) -> int:
    return sum(
        1
        for c in world.argocd.calls
        if c.method == "POST" and (c.body or {}).get("action") == "abort"
    )


async def abort_once(world: DeployWorld) -> Button:
    """`/deploy rollback webapp`, confirmed: the canary is aborted. Returns the used button."""
    confirm = await world.deploy("rollback webapp")
    assert "Abort the canary of `webapp` prod" in confirm.text
    go = confirm.button(ActionId.ROLLBACK_CONFIRM)
    assert "Aborted the canary" in (await world.click(go)).text
    assert rollout_of(world).aborted
    return go


def retry(world: DeployWorld) -> None:
    """The operator retries the aborted canary: it starts over and pauses at step 2 again."""
    rollout = rollout_of(world)
    rollout.apply("retry")
    assert not rollout.aborted and (rollout.step_index, rollout.weight) == (1, 20)


async def test_promote_after_a_retry_acts_again(world: DeployWorld) -> None:
    first = (await world.deploy("promote webapp")).text
    assert first.startswith("Promoted: step 2 of 5, weight 20%, actual 20%, paused → step 4")
    await abort_once(world)
    retry(world)

    again = (await world.deploy("promote webapp")).text
    assert again.startswith("Promoted: step 2 of 5, weight 20%, actual 20%, paused → step 4")
    assert rollout_of(world).weight == 50


async def test_a_double_click_on_promote_after_a_retry_still_acts_once(world: DeployWorld) -> None:
    await world.deploy("promote webapp")
    await abort_once(world)
    retry(world)

    promote = (await world.deploy("status webapp")).button(ActionId.PROMOTE_NEXT)
    first, second = await asyncio.gather(
        world.click(promote, user="U0OWNER"), world.click(promote, user="U0MEMBER")
    )
    replies = [first.text, second.text]
    assert sum(r.startswith("Promoted") for r in replies) == 1
    assert sum("Already done by <@U0" in r for r in replies) == 1
    assert rollout_of(world).weight == 50


async def test_a_retried_canary_is_aborted_again_exactly_once(world: DeployWorld) -> None:
    old = await abort_once(world)
    retry(world)

    stale = (await world.click(old, user="U0ADMIN")).text  # the first attempt's confirmation
    assert "already started by <@U0OWNER>" in stale and "nothing more was done" in stale
    assert "retried since" in stale and "`/deploy rollback webapp prod`" in stale
    assert not rollout_of(world).aborted and aborts(world) == 1

    confirm = await world.deploy("rollback webapp")
    assert "Abort the canary of `webapp` prod" in confirm.text
    go = confirm.button(ActionId.ROLLBACK_CONFIRM)
    first, second = await asyncio.gather(
        world.click(go, user="U0OWNER"), world.click(go, user="U0ADMIN")
    )
    replies = [first.text, second.text]
    assert sum("Aborted the canary" in r for r in replies) == 1
    assert sum("already started by <@U0" in r for r in replies) == 1
    assert rollout_of(world).aborted and aborts(world) == 2
    late = (await world.click(go, user="U0ADMIN")).text
    assert "already started by <@U0" in late and "retried since" not in late
    assert aborts(world) == 2


async def test_an_abort_that_failed_can_be_asked_for_again(world: DeployWorld) -> None:
    confirm = await world.deploy("rollback webapp")
    go = confirm.button(ActionId.ROLLBACK_CONFIRM)
    world.argocd.fail_next(503)
    failed = (await world.click(go)).text
    assert failed.startswith(":warning:") and "Aborted" not in failed
    assert not rollout_of(world).aborted

    same = (await world.click(go, user="U0ADMIN")).text  # the spent confirmation
    assert same.endswith(
        "nothing more was done. It failed: run `/deploy rollback webapp prod` again."
    )
    await abort_once(world)
    assert aborts(world) == 1
