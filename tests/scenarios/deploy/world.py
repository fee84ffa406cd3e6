"""A small world for `/deploy` scenarios: Slack, Argo CD with a canary, Herald, two releases.

Plain helpers; the fixtures that build the world are in this folder's conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bot.catalog import Catalog
from bot.examples import example_manifest
from bot.settings import Settings
from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from standins.slack_messages import SlackMessage
from tests.conftest import OPS, Herald, SettingsFactory, start_herald
from tests.slack.conversation import Conversation
from tests.waiting import eventually

OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
NEW_SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"
APP = "webapp-prod"
CATALOG = Catalog.model_validate(
    {
        "admins": ["U0ADMIN"],
        "services": {
            "webapp": {
                "owners": ["U0OWNER", "S0BILLING"],
                "environments": {
                    "prod": {
                        "argocd_app": APP,
                        "rollout": {"name": "webapp", "namespace": "webapp"},
                    },
                    "staging": {"argocd_app": "webapp-staging"},
                },
            },
            "billing": {"owners": ["U0OWNER"], "environments": {"prod": {}}},
        },
    }
)


class DeployWorld(Conversation):
    """Herald in process with the Argo CD stand-in, and people talking to it in Slack."""

    def __init__(self, herald: Herald, slack: FakeSlack, argocd: FakeArgoCD) -> None:
        super().__init__(url=herald.url, session=herald.session, slack=slack)
        self.herald = herald
        self.argocd = argocd

    def writes(self) -> list[str]:
        """Argo CD calls that change something."""
        return [f"{c.method} {c.path}" for c in self.argocd.calls if c.method != "GET"]


async def seed_releases(herald: Herald) -> None:
    old = {**example_manifest(), "id": "rel-1", "version": "1.41.3"}
    old["git"] = {**old["git"], "commit": OLD_SHA[:7]}
    new = {**example_manifest(), "id": "rel-2"}
    new["git"] = {**new["git"], "commit": NEW_SHA[:7]}
    for manifest in (old, new):
        assert (await herald.post_manifest(manifest))[0] == 201
        for event in ("release.started", "release.deployed"):
            assert (await herald.post_event(manifest["id"], event=event))[0] == 201
        await asyncio.sleep(0.01)  # rel-2 is recorded after rel-1, never at the same instant


async def settle(herald: Herald) -> None:
    """Wait until every seeded message is posted and recorded."""

    async def delivered() -> bool:
        for rid in ("rel-1", "rel-2"):
            _, body = await herald.call("GET", f"/api/v1/releases/{rid}")
            if body["messages_pending"] != 0:
                return False
        return True

    await eventually(delivered, timeout=10, interval=0.02, what="seeded messages delivered")


def argo_settings(make_settings: SettingsFactory, argocd: FakeArgoCD, **overrides: Any) -> Settings:
    """Settings for Herald talking to `argocd`, with a short timeout."""
    return make_settings(
        argocd_url=argocd.url,
        argocd_token="argocd-test-token",
        argocd_timeout_seconds=1.0,
        resume_grace_seconds=1.0,  # commands still running (Argo CD slow) must not be resumed
        **overrides,
    )


@asynccontextmanager
async def running_world(
    settings: Settings, *, slack: FakeSlack, argocd: FakeArgoCD, catalog: Catalog = CATALOG
) -> AsyncIterator[DeployWorld]:
    """Herald serving `catalog`, with both releases seeded and their messages delivered."""
    runner = await start_herald(settings, catalog=catalog)
    try:
        async with aiohttp.ClientSession() as session:
            herald = Herald(runner, session)
            await seed_releases(herald)
            await settle(herald)
            yield DeployWorld(herald, slack, argocd)
    finally:
        await runner.cleanup()


async def fail_release(world: DeployWorld) -> SlackMessage:
    """rel-2 fails: its incident message, once it is posted in the ops channel."""
    assert (await world.herald.post_event("rel-2", event="release.failed", symptom="5xx"))[0] == 201
    await eventually(lambda: len(world.slack.posted(OPS)) == 1)
    return world.slack.posted(OPS)[0]


def ops_thread(world: DeployWorld, incident: SlackMessage) -> list[str]:
    """The replies under the incident message."""
    return [m.text for m in world.slack.replies(OPS, incident.ts)]
