"""`/deploy calendar`: the release manager asks Slack what shipped and what is coming."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.scenarios.deploy.world import DeployWorld


async def test_the_calendar_shows_todays_release_with_its_outcome_and_a_freeze(
    world: DeployWorld,
) -> None:
    until = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%MZ")
    await world.deploy(f"freeze webapp prod until {until} quarter-end close", user="U0ADMIN")
    reply = await world.deploy("calendar webapp")
    assert reply.ephemeral
    shown = reply.block_text
    assert shown.startswith("*Release calendar* — webapp, ")
    assert "— webapp 1.42.0 to prod: deployed" in shown
    assert (
        ":snowflake: <!date^" in shown
        and "Freeze freeze-1: quarter-end close (webapp in prod)" in shown
    )
    assert "billing" not in shown


async def test_the_calendar_refuses_a_window_it_does_not_show(world: DeployWorld) -> None:
    ack = await world.send("calendar webapp 52")
    assert "shows 1 to 26 weeks" in json.loads(ack.body)["text"]
