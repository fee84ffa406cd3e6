"""A `/deploy` command cut short by a crash (SIGKILL after the ack) is carried out once after
the restart, and says it comes late; a command that finished is never run again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.slack import FakeSlack
from tests.herald_process import HeraldServer
from tests.slack.conversation import Conversation
from tests.waiting import stays

pytestmark = pytest.mark.slow
APP = "webapp-prod"
CATALOG = {
    "services": {
        "webapp": {
            "owners": ["U0OWNER"],
            "environments": {
                "prod": {
                    "argocd_app": APP,
                    "rollout": {"name": "webapp", "namespace": "webapp"},
                }
            },
        }
    }
}


@pytest.fixture
async def argocd() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        fake.add_app(APP, revision="9f4c2b1", history=[(1, "1a2b3c4"), (2, "9f4c2b1")])
        fake.app(APP).rollout = FakeRollout("webapp", "webapp")
        yield fake


@pytest.fixture
async def herald(
    slack: FakeSlack, argocd: FakeArgoCD, tmp_path: Path
) -> AsyncIterator[HeraldServer]:
    config = tmp_path / "herald.yaml"
    config.write_text(yaml.safe_dump(CATALOG))
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db")
    server.env.update(
        HERALD_CONFIG=str(config),
        ARGOCD_URL=argocd.url,
        ARGOCD_TOKEN=argocd.token,
        HERALD_RESUME_GRACE_SECONDS="1",
    )
    yield server
    if server.running:
        await server.kill()


@pytest.fixture
async def chat(herald: HeraldServer, slack: FakeSlack) -> AsyncIterator[Conversation]:
    async with aiohttp.ClientSession() as session:
        yield Conversation(url=herald.url, session=session, slack=slack)


def promotions(argocd: FakeArgoCD) -> int:
    return sum(1 for c in argocd.calls if c.method == "POST" and "actions" in c.path)


async def test_a_command_killed_after_its_ack_runs_once_after_the_restart(
    herald: HeraldServer, chat: Conversation, argocd: FakeArgoCD
) -> None:
    await herald.start()
    done = await chat.send("status webapp")
    assert done.status == 200
    await chat.reply(done.key, wait=10)
    argocd.slow_next(30.0)  # Argo CD hangs on the promote's first call ...
    cut = await chat.send("promote webapp")
    assert cut.status == 200
    await stays(lambda: promotions(argocd) == 0 and chat.replies(cut.key) == [], seconds=0.3)
    await herald.kill()  # ... and Herald dies after the ack, before any change
    assert promotions(argocd) == 0 and chat.replies(cut.key) == []

    await herald.start()
    reply = await chat.reply(cut.key, wait=15)
    assert any("late: Herald restarted while handling this" in note for note in reply.notes)
    assert promotions(argocd) == 1
    await herald.kill()  # and once more: nothing is left to resume
    await herald.start()
    await stays(
        lambda: (
            promotions(argocd) == 1
            and len(chat.replies(cut.key)) == 1
            and len(chat.replies(done.key)) == 1
        ),
        seconds=2.5,
    )
