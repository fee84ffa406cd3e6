"""A `/deploy` command cut short by a crash (SIGKILL after the ack) is carried out once after
the restart, and says it comes late; a command that finished is never run again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.herald_process import HeraldServer
from tests.scenarios.deploy.killed import (
    herald_on,
    promotions,
)
from tests.slack.conversation import Conversation
from tests.waiting import stays

pytestmark = pytest.mark.slow


@pytest.fixture
async def herald(
    slack: FakeSlack, argocd: FakeArgoCD, tmp_path: Path
) -> AsyncIterator[HeraldServer]:
    server = herald_on(slack, argocd, tmp_path)
    yield server
    if server.running:
        await server.kill()


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
