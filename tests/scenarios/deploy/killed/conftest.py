"""What every scenario of a `herald serve` killed mid-work starts from: webapp's canary in
Argo CD and a conversation with the server (each module starts its own server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.herald_process import HeraldServer
from tests.scenarios.deploy.killed import canary_argocd, conversation
from tests.slack.conversation import Conversation


@pytest.fixture
async def argocd() -> AsyncIterator[FakeArgoCD]:
    async for fake in canary_argocd():
        yield fake


@pytest.fixture
async def chat(herald: HeraldServer, slack: FakeSlack) -> AsyncIterator[Conversation]:
    async for talk in conversation(herald, slack):
        yield talk
