"""`/deploy promote` over a red or yellow early watch: Herald asks first, naming the colour
and the failing signal; Promote anyway promotes, once. Green (or no watch) promotes at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col, select

from bot.deps import DEPS
from bot.domain.watch.watch import WatchPurpose
from bot.slack.ids import ActionId
from bot.store.tables import AuditRow, WatchRow
from bot.store.watches import start_watch
from tests.scenarios.deploy.world import APP, DeployWorld

RED_REASON = "W2: 5xx ratio 8.0% in the last 1m (threshold 2.0%)"
PROMOTE = f"POST /api/v1/applications/{APP}/resource/actions/v2"


async def the_watch_of_rel_2_said(world: DeployWorld, color: str, reason: str) -> None:
    """rel-2's early watch announced `color` for `reason` (written as the watch writes it)."""
    database = world.herald.runner.app[DEPS].database
    at = datetime.now(UTC)
    async with database.transaction() as session:
        await start_watch(
            session,
            release_id="rel-2",
            service="webapp",
            env="prod",
            purpose=WatchPurpose.RELEASE,
            origin=at,
            ends_at=at,
            due_at=at,
            now=at,
        )
        await session.execute(
            update(WatchRow)
            .where(col(WatchRow.release_id) == "rel-2")
            .values(color=color, reason=reason)
        )


async def promote_audit(world: DeployWorld) -> list[tuple[str, str, object]]:
    database = world.herald.runner.app[DEPS].database
    async with database.transaction() as session:
        rows = (await session.execute(select(AuditRow).order_by(col(AuditRow.id)))).scalars()
        return [(r.actor, r.outcome, r.args.get("confirmed")) for r in rows]


async def test_promote_over_a_red_watch_asks_first_naming_the_signal(world: DeployWorld) -> None:
    await the_watch_of_rel_2_said(world, "red", RED_REASON)
    caution = await world.deploy("promote webapp")
    assert caution.ephemeral
    assert caution.text == (
        f":warning: The early watch of `rel-2` (v1.42.0) is *red*: {RED_REASON}. "
        "Nothing was promoted. Promote anyway?"
    )
    anyway = caution.button(ActionId.PROMOTE_ANYWAY)
    assert anyway.element["style"] == "danger"
    assert world.writes() == []  # Argo CD was asked nothing

    done = await world.click(anyway)
    assert done.text.startswith(
        "Promoted: step 2 of 5, weight 20%, actual 20%, paused → step 4 of 5, weight 50%"
    )
    assert done.body["replace_original"] is True  # the question is gone
    again = await world.click(anyway, user="U0ADMIN")
    assert "Already done by <@U0OWNER>" in again.text
    assert world.writes() == [PROMOTE]
    assert await promote_audit(world) == [
        ("U0OWNER", "cautioned", False),
        ("U0OWNER", "done", True),
    ]


async def test_the_promote_next_step_button_asks_too(world: DeployWorld) -> None:
    await the_watch_of_rel_2_said(world, "red", RED_REASON)
    status = await world.deploy("status webapp")
    caution = await world.click(status.button(ActionId.PROMOTE_NEXT))
    assert "is *red*: W2: 5xx ratio 8.0%" in caution.text
    assert world.writes() == []
    await world.click(caution.button(ActionId.PROMOTE_ANYWAY))
    assert world.writes() == [PROMOTE]


async def test_a_yellow_watch_asks_and_promote_anyway_keeps_the_goal(world: DeployWorld) -> None:
    await the_watch_of_rel_2_said(world, "yellow", "W4: p95 latency 640ms, +60% over stable")
    caution = await world.deploy("promote webapp full")
    assert "is *yellow*: W4: p95 latency 640ms, +60% over stable. " in caution.text
    assert world.writes() == []
    done = await world.click(caution.button(ActionId.PROMOTE_ANYWAY))
    assert "Promoted fully: fully promoted (100%)" in done.text
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.fully_promoted


async def test_a_green_watch_promotes_at_once(world: DeployWorld) -> None:
    await the_watch_of_rel_2_said(world, "green", "W2: 5xx ratio 0.1%")
    reply = await world.deploy("promote webapp")
    assert reply.text.startswith("Promoted: step 2 of 5")
    assert "Promote anyway" not in str(reply.blocks)
    assert world.writes() == [PROMOTE]
    assert await promote_audit(world) == [("U0OWNER", "done", None)]


async def test_a_stranger_is_refused_before_any_caution(world: DeployWorld) -> None:
    await the_watch_of_rel_2_said(world, "red", RED_REASON)
    reply = await world.deploy("promote webapp", user="U0STRANGER")
    assert "Only owners of webapp" in reply.text
    assert "red" not in reply.text
    assert world.writes() == []
