"""The `/deploy` world: Argo CD with a canary in flight and Herald with two releases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.slack import FakeSlack
from tests.conftest import SettingsFactory
from tests.scenarios.deploy.world import (
    APP,
    NEW_SHA,
    OLD_SHA,
    DeployWorld,
    argo_settings,
    running_world,
)


@pytest.fixture
async def argocd() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        fake.add_app(
            APP,
            revision=NEW_SHA,
            history=[(1, OLD_SHA), (2, NEW_SHA)],
            auto_sync=True,
            rollout=FakeRollout("webapp", "webapp"),
        )
        fake.add_app(
            "webapp-staging",
            revision=NEW_SHA,
            history=[(4, OLD_SHA), (5, NEW_SHA)],
            auto_sync=False,
        )
        yield fake


@pytest.fixture
async def world(
    make_settings: SettingsFactory, slack: FakeSlack, argocd: FakeArgoCD
) -> AsyncIterator[DeployWorld]:
    slack.usergroups["S0BILLING"] = ["U0MEMBER"]
    settings = argo_settings(make_settings, argocd)
    async with running_world(settings, slack=slack, argocd=argocd) as world:
        yield world
