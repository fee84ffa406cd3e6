"""A `/deploy` command cut short by a crash (SIGKILL after the ack) is carried out once after
the restart, and says it comes late; a command that finished is never run again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from standins import slack_requests
from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.slack import FakeSlack
from tests.scenarios.test_restart import HeraldProcess
from tests.slack.signed import signed_headers

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
) -> AsyncIterator[HeraldProcess]:
    config = tmp_path / "herald.yaml"
    config.write_text(yaml.safe_dump(CATALOG))
    process = HeraldProcess(slack=slack, database=tmp_path / "herald.db")
    process.env.update(
        HERALD_CONFIG=str(config),
        ARGOCD_URL=argocd.url,
        ARGOCD_TOKEN=argocd.token,
        HERALD_RESUME_GRACE_SECONDS="1",
    )
    yield process
    if process.process and process.process.returncode is None:
        await process.kill()


async def send_command(herald: HeraldProcess, slack: FakeSlack, text: str, key: str) -> None:
    body = slack_requests.slash_command(
        text, user="U0OWNER", trigger_id=f"{key}.trigger", response_url=slack.response_url(key)
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            herald.url + "/slack/events", data=body.encode(), headers=signed_headers(body)
        ) as response,
    ):
        assert response.status == 200


def answers(slack: FakeSlack, key: str) -> list[str]:
    return [str(r) for r in slack.responses if r["_key"] == key]


def promotions(argocd: FakeArgoCD) -> int:
    return sum(1 for c in argocd.calls if c.method == "POST" and "actions" in c.path)


async def test_a_command_killed_after_its_ack_runs_once_after_the_restart(
    herald: HeraldProcess, slack: FakeSlack, argocd: FakeArgoCD
) -> None:
    await herald.start()
    await send_command(herald, slack, "status webapp", "done")
    await slack.wait_for(lambda: len(answers(slack, "done")) == 1, timeout=10)
    argocd.slow_next(30.0)  # Argo CD hangs on the promote's first call ...
    await send_command(herald, slack, "promote webapp", "cut")
    await asyncio.sleep(0.3)
    await herald.kill()  # ... and Herald dies after the ack, before any change
    assert promotions(argocd) == 0 and answers(slack, "cut") == []

    await herald.start()
    await slack.wait_for(lambda: len(answers(slack, "cut")) == 1, timeout=15)
    reply = answers(slack, "cut")[0]
    assert "late: Herald restarted while handling this" in reply
    assert promotions(argocd) == 1
    await herald.kill()  # and once more: nothing is left to resume
    await herald.start()
    await asyncio.sleep(2.5)
    assert promotions(argocd) == 1
    assert len(answers(slack, "cut")) == 1 and len(answers(slack, "done")) == 1
