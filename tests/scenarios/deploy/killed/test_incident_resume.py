"""An incident control cut short by a crash (SIGKILL after the ack, while Herald checks the
presser's user group) is carried out once after the restart: Mark recovered records one
recovery and says so once."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.examples import example_manifest
from bot.slack.ids import ActionId
from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.conftest import INGEST_TOKEN, OPS
from tests.herald_process import HeraldServer
from tests.scenarios.deploy.killed import CATALOG, herald_on
from tests.slack.conversation import Conversation
from tests.slack.reply import button_in
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow
WITH_LEADS: dict[str, Any] = copy.deepcopy(CATALOG)
WITH_LEADS["services"]["webapp"]["owners"] = ["U0OWNER", "S0LEADS"]  # the lead, via a group


@pytest.fixture
async def herald(
    slack: FakeSlack, argocd: FakeArgoCD, tmp_path: Path
) -> AsyncIterator[HeraldServer]:
    slack.usergroups["S0LEADS"] = ["U0LEAD"]
    server = herald_on(slack, argocd, tmp_path, catalog=WITH_LEADS)
    yield server
    if server.running:
        await server.kill()


async def api(herald: HeraldServer, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, herald.url + path, json=body, headers=headers) as answer,
    ):
        return await answer.json()


async def state(herald: HeraldServer) -> str:
    detail = await api(herald, "GET", "/api/v1/releases/rel-inc")
    return str(detail["release"]["state"])


async def test_mark_recovered_killed_after_its_ack_recovers_once_after_the_restart(
    herald: HeraldServer, chat: Conversation, slack: FakeSlack
) -> None:
    await herald.start()
    await api(herald, "POST", "/api/v1/releases", {**example_manifest(), "id": "rel-inc"})
    for event in ("release.started", "release.failed"):
        await api(herald, "POST", "/api/v1/releases/rel-inc/events", {"event": event})
    await eventually(lambda: len(slack.posted(OPS)) == 1, timeout=10)
    incident = slack.posted(OPS)[0]
    slack.delay_next("usergroups.users.list", seconds=30)  # the lead's group check hangs ...
    key = await chat.press(button_in(incident.blocks, ActionId.MARK_RECOVERED), user="U0LEAD")
    await stays(lambda: chat.replies(key) == [], seconds=0.3)
    assert await state(herald) == "release.failed"
    await herald.kill()  # ... and Herald dies after the ack, before it recorded anything

    await herald.start()
    reply = await chat.reply(key, wait=15)
    assert reply.text.startswith("Recovered: the page is resolved"), reply.text
    assert await state(herald) == "release.recovered"
    await herald.kill()  # and once more: nothing is left to resume
    await herald.start()

    def said() -> int:
        return sum("marked it recovered" in m.text for m in slack.replies(OPS, incident.ts))

    await eventually(lambda: said() == 1, timeout=10)
    await stays(lambda: said() == 1 and len(chat.replies(key)) == 1, seconds=2.5)
