"""What the scenarios of a `/deploy` command cut short by a kill share: webapp's canary in
Argo CD, a `herald serve` on it, a conversation with it, and the promotes Argo CD saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.slack import FakeSlack
from tests.herald_process import HeraldServer
from tests.slack.conversation import Conversation

APP = "webapp-prod"
CATALOG = {
    "services": {
        "webapp": {
            "owners": ["U0OWNER"],
            "environments": {
                "prod": {"argocd_app": APP, "rollout": {"name": "webapp", "namespace": "webapp"}}
            },
        }
    }
}


async def canary_argocd() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        fake.add_app(APP, revision="9f4c2b1", history=[(1, "1a2b3c4"), (2, "9f4c2b1")])
        fake.app(APP).rollout = FakeRollout("webapp", "webapp")
        yield fake


def herald_on(
    slack: FakeSlack,
    argocd: FakeArgoCD,
    tmp_path: Path,
    *,
    catalog: dict[str, Any] | None = None,
    **env: str,
) -> HeraldServer:
    """`herald serve` on webapp's catalogue (or `catalog`); claims go stale after 1 s."""
    config = tmp_path / "herald.yaml"
    config.write_text(yaml.safe_dump(catalog or CATALOG))
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db", log=tmp_path / "log")
    server.env.update(
        HERALD_CONFIG=str(config),
        ARGOCD_URL=argocd.url,
        ARGOCD_TOKEN=argocd.token,
        HERALD_RESUME_GRACE_SECONDS="1",
        **env,
    )
    return server


async def conversation(herald: HeraldServer, slack: FakeSlack) -> AsyncIterator[Conversation]:
    async with aiohttp.ClientSession() as session:
        yield Conversation(url=herald.url, session=session, slack=slack)


def promotions(argocd: FakeArgoCD) -> int:
    return sum(1 for c in argocd.calls if c.method == "POST" and "actions" in c.path)
