"""`/deploy rollback <service> <version|sha>`: a target Herald cannot place in Argo CD's history
is refused with the targets there are; a git sha is matched against the history's revisions,
with or without a release on record, and the confirmation and the answer name the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.examples import example_manifest
from bot.slack.ids import ActionId
from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from tests.scenarios.deploy.world import APP, NEW_SHA, OLD_SHA, DeployWorld

ORPHAN = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"  # deployed without Herald knowing it
TWIN_A = "abcdef1234aa5c6d7e8f9a0b1c2d3e4f5a6b7c8d"  # two revisions sharing a prefix
TWIN_B = "abcdef1299bb5c6d7e8f9a0b1c2d3e4f5a6b7c8d"
TARGETS = (
    "Targets in Argo CD's history of `webapp-prod`: `abcdef1` (#4), `abcdef1` (#3), "
    "`5e6f7a8` (#2), `1.41.3` (#1, `1a2b3c4`). Nothing was changed."
)


@pytest.fixture
async def argocd() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        history = [(1, OLD_SHA), (2, ORPHAN), (3, TWIN_A), (4, TWIN_B), (5, NEW_SHA)]
        fake.add_app(
            APP,
            revision=NEW_SHA,
            history=history,
            auto_sync=True,
            rollout=FakeRollout("webapp", "webapp"),
        )
        yield fake


async def refused(world: DeployWorld, command: str) -> str:
    reply = await world.deploy(command)
    assert ActionId.ROLLBACK_CONFIRM not in reply.buttons
    assert world.writes() == []
    return reply.text


async def test_a_version_herald_has_no_release_for_is_refused(world: DeployWorld) -> None:
    said = await refused(world, "rollback webapp 9.9.9")
    assert said.startswith(
        "Cannot roll back `webapp` prod to `9.9.9`: Herald has no release of that version. "
    )
    assert said.endswith(TARGETS)


async def test_a_release_that_is_not_in_the_history_is_refused(world: DeployWorld) -> None:
    old = {**example_manifest(), "id": "rel-0", "version": "1.40.0"}
    old["git"] = {**old["git"], "commit": "7777777"}
    assert (await world.herald.post_manifest(old))[0] == 201
    said = await refused(world, "rollback webapp 1.40.0")
    assert said.startswith(
        "Cannot roll back `webapp` prod to `1.40.0`: its commit `7777777` is in no history entry. "
    )
    assert said.endswith(TARGETS)


async def test_an_unknown_sha_is_refused(world: DeployWorld) -> None:
    said = await refused(world, "rollback webapp 0badc0de")
    assert said.startswith(
        "Cannot roll back `webapp` prod to `0badc0de`: no revision in the history starts with it. "
    )
    assert said.endswith(TARGETS)


async def test_an_ambiguous_sha_is_refused_with_the_matches(world: DeployWorld) -> None:
    said = await refused(world, "rollback webapp abcdef1")
    assert said == (
        "`abcdef1` matches 2 revisions: `abcdef1234aa` (#3), `abcdef1299bb` (#4). "
        "Give more of the sha. Nothing was changed."
    )
    confirm = await world.deploy("rollback webapp abcdef1234")
    assert "back to revision abcdef1 (Argo CD `webapp-prod` history #3)" in confirm.text


async def test_a_sha_herald_has_no_release_for_rolls_back_end_to_end(world: DeployWorld) -> None:
    confirm = await world.deploy("rollback webapp 5E6F7A8")
    assert confirm.text.startswith(
        ":rewind: *Confirm rollback*\nRoll `webapp` prod back to revision 5e6f7a8 "
        "(Argo CD `webapp-prod` history #2). Automated sync is on"
    )
    done = (await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))).text
    assert done.startswith(
        "Rolled `webapp` prod back to revision 5e6f7a8 (Argo CD `webapp-prod` history #2)."
    )
    assert world.argocd.app(APP).revision == ORPHAN
    _, release = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert release["release"]["state"] == "release.rolled_back"


async def test_a_full_sha_of_a_known_release_names_its_version(world: DeployWorld) -> None:
    confirm = await world.deploy(f"rollback webapp {OLD_SHA}")
    assert "back to 1.41.3 (Argo CD `webapp-prod` history #1, revision 1a2b3c4)." in confirm.text
    done = (await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))).text
    assert "Rolled `webapp` prod back to 1.41.3 (Argo CD `webapp-prod` history #1" in done
    assert world.argocd.app(APP).revision == OLD_SHA


async def test_a_last_good_release_missing_from_the_history_is_refused(world: DeployWorld) -> None:
    await world.deploy("promote webapp full")  # no canary in flight: an Argo CD rollback
    app = world.argocd.app(APP)
    app.history = [h for h in app.history if h["revision"] != OLD_SHA]
    writes = world.writes()
    said = (await world.deploy("rollback webapp")).text
    assert said == (
        "Cannot roll back `webapp` prod: no history entry matches the last good release, "
        "1.41.3 (`1a2b3c4`). Targets in Argo CD's history of `webapp-prod`: `abcdef1` (#4), "
        "`abcdef1` (#3), `5e6f7a8` (#2). Nothing was changed."
    )
    assert world.writes() == writes
