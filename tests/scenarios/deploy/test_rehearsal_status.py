"""`/deploy status` says whether the rollback of what runs was rehearsed, where and when."""

from __future__ import annotations

from tests.scenarios.deploy.world import DeployWorld


async def test_status_says_the_rollback_was_not_rehearsed_until_ci_reports_it(
    world: DeployWorld,
) -> None:
    before = (await world.deploy("status webapp")).text
    assert "Rollback not rehearsed in another env." in before
    status, _ = await world.herald.call(
        "POST", "/api/v1/releases/rel-2/rehearsals", json={"env": "staging", "result": "passed"}
    )
    assert status == 201
    after = (await world.deploy("status webapp")).text
    assert "Rollback rehearsed in staging just now: passed." in after
