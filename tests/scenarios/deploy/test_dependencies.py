"""Dependencies between services, from Herald's own store: `/deploy deps` says what a service
requires and who requires it; a release that starts without what it requires is warned
about in its thread; a rollback that would break a dependent says so before anyone confirms."""

from __future__ import annotations

from typing import Any

from bot.examples import example_manifest
from bot.slack.ids import ActionId
from tests.conftest import FEED
from tests.scenarios.deploy.world import DeployWorld
from tests.waiting import eventually


def billing(rid: str, version: str, needs: str) -> dict[str, Any]:
    """A billing release that requires webapp `needs` in prod."""
    return {
        **example_manifest(),
        "id": rid,
        "service": "billing",
        "version": version,
        "requires": [{"service": "webapp", "version": needs}],
    }


async def ship(world: DeployWorld, manifest: dict[str, Any], *events: str) -> None:
    assert (await world.herald.post_manifest(manifest))[0] == 201
    for event in events:
        status, body = await world.herald.post_event(manifest["id"], event=f"release.{event}")
        assert status == 201, body


async def test_deps_shows_what_a_service_requires_and_who_requires_it(
    world: DeployWorld,
) -> None:
    await ship(world, billing("rel-co-1", "3.1.0", ">=1.42.0"), "started", "deployed")
    mine = await world.deploy("deps billing")
    assert mine.block_text.splitlines()[:2] == [  # Slack shows &gt; as >
        "*billing requires*",
        ":white_check_mark: `webapp &gt;=1.42.0 in prod` for prod v3.1.0 — billing 3.1.0"
        " requires webapp &gt;=1.42.0 in prod: it runs 1.42.0.",
    ]
    theirs = await world.deploy("deps webapp")
    assert "*Required by*" in theirs.block_text
    assert (
        ":white_check_mark: `billing v3.1.0 (prod)` needs &gt;=1.42.0 in prod" in theirs.block_text
    )
    wrong = await world.send("deps")  # answered in the ack, with the usage
    assert "`/deploy deps` takes one service, e.g. `/deploy deps webapp`." in wrong.body


async def test_a_start_without_what_it_requires_is_warned_in_its_thread(
    world: DeployWorld,
) -> None:
    await ship(world, billing("rel-co-2", "4.0.0", ">=2.0"), "started")
    status, body = await world.herald.call("GET", "/api/v1/releases/rel-co-2")
    assert status == 200, body

    def warned() -> bool:
        return any(
            "started while what it requires is not deployed" in m.text
            and "requires webapp &gt;=2.0 in prod; it runs 1.42.0" in m.text
            for m in world.slack.messages(FEED)
            if m.thread_ts is not None
        )

    await eventually(warned, timeout=5)


async def test_a_rollback_that_breaks_a_dependent_says_so_before_it_is_confirmed(
    world: DeployWorld,
) -> None:
    await ship(world, billing("rel-co-3", "3.1.0", ">=1.42.0"), "started", "deployed")
    reply = await world.deploy("rollback webapp prod 1.41.3")
    assert ActionId.ROLLBACK_CONFIRM in reply.buttons
    warning = (
        "This breaks what depends on it: billing 3.1.0 (prod) requires webapp &gt;=1.42.0,"
        " which 1.41.3 is not."
    )
    assert warning in reply.text
    assert warning in str(reply.buttons[ActionId.ROLLBACK_CONFIRM].confirm)
    assert world.writes() == []  # nothing done before the confirmation
