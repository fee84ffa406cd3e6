"""The example release workflow's shell steps, with Herald's action expanded into its own,
run against a real `herald serve` (tests/github_actions/runner.py plays the job): what the
team then sees in Herald's API and in Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, OPS
from tests.github_actions.jobs import COMMIT_AGE, make_checkout, make_context
from tests.github_actions.runner import Job, run_action, run_job
from tests.herald_process import HeraldServer
from tests.waiting import eventually

pytestmark = pytest.mark.slow
RID = "rel-8812.1"  # rel-<run id>.<run attempt>


@pytest.fixture
async def herald(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[HeraldServer]:
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db", log=tmp_path / "log")
    await server.start()
    yield server
    await server.stop()


async def play(
    herald: HeraldServer, root: Path, *, deploy_exit: int, token: str, install: bool = False
) -> Job:
    workdir = make_checkout(root, deploy_exit=deploy_exit)
    context = make_context(workdir, herald_url=herald.url, token=token, install=install)
    return await run_job(context)


async def release(herald: HeraldServer, rid: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{herald.url}/api/v1/releases/{rid}", headers=headers) as response,
    ):
        return response.status, await response.json()


def events(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {event["event"].removeprefix("release."): event for event in body["events"]}


def feed(slack: FakeSlack) -> list[str]:
    return [message.text for message in slack.posted(FEED)]


async def test_a_release_that_deploys_is_in_herald_and_the_feed_with_its_lead_time(
    herald: HeraldServer, slack: FakeSlack, tmp_path: Path
) -> None:
    """A tag push: the action installs Herald (its own install step, here from the uv cache),
    then the manifest, the gate says go, started, the deploy, deployed with the commit's age
    as lead time; three cards in #release-feed, the last one saying the lead time."""
    job = await play(herald, tmp_path, deploy_exit=0, token=INGEST_TOKEN, install=True)
    assert not job.failed, job.log()
    installed = tmp_path / "runner-temp/herald/bin"
    assert job.path == [str(installed)] * 4, job.path  # installed once, used four times
    assert job.log().count("Herald is already installed") == 3
    assert f"gate: go for {RID}" in job.log()
    assert job.steps["herald"]["outputs"] == {"release-id": RID}
    assert job.steps["deploy"]["outcome"] == "success"
    status, body = await release(herald, RID)
    assert status == 200
    assert list(events(body)) == ["planned", "started", "deployed"]
    lead = events(body)["deployed"]["details"]["lead_time_seconds"]
    assert COMMIT_AGE <= lead < COMMIT_AGE + 60
    assert events(body)["started"]["links"]["run"].endswith("/acme/webapp/actions/runs/8812")
    await eventually(lambda: len(feed(slack)) == 3, timeout=10, what="three feed cards")
    assert "release.deployed | webapp | prod | v1.42.0 (rel-8812.1)" in feed(slack)[2]
    assert "Lead time: 2h" in feed(slack)[2]
    assert "usage-based pricing" in feed(slack)[0]


async def test_a_failed_deploy_is_recorded_failed_and_opens_the_ops_thread(
    herald: HeraldServer, slack: FakeSlack, tmp_path: Path
) -> None:
    """./deploy.sh exits 1: no deployed event; the failure step posts release.failed with the
    symptom, and #release-ops gets the incident."""
    job = await play(herald, tmp_path, deploy_exit=1, token=INGEST_TOKEN)
    assert job.failed
    assert [job.outcome(s) for s in ("deploy", "lead", "deployed", "failed")] == [
        "failure",
        "skipped",
        "skipped",
        "success",
    ]
    status, body = await release(herald, RID)
    assert status == 200
    assert list(events(body)) == ["planned", "started", "failed"]
    assert events(body)["failed"]["details"]["symptom"] == (
        "the release job failed after the start (deploy: failure)"
    )
    await eventually(lambda: len(slack.posted(OPS)) == 1, timeout=10, what="the ops incident")
    assert "the release job failed after the start" in slack.posted(OPS)[0].text
    assert "release.failed | webapp" in feed(slack)[-1]


async def test_a_token_herald_refuses_fails_the_step_and_the_job(
    herald: HeraldServer, slack: FakeSlack, tmp_path: Path
) -> None:
    """A wrong HERALD_INGEST_TOKEN secret: the manifest step exits non-zero with Herald's
    401, nothing after it runs (not even the failure report), and Herald has no release."""
    job = await play(herald, tmp_path, deploy_exit=0, token="not-the-token")
    assert job.failed
    assert job.outcome("herald") == "failure"
    assert "HTTP 401" in job.log()
    assert {job.outcome(s) for s in ("started", "deploy", "failed")} == {"skipped"}
    assert (await release(herald, RID))[0] == 404
    assert feed(slack) == []


@pytest.fixture
async def frozen_herald(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[HeraldServer]:
    """A Herald whose catalogue freezes prod from an hour ago until tomorrow."""
    now = datetime.now(UTC)
    catalogue = tmp_path / "services.yaml"
    catalogue.write_text(
        "freezes:\n  - name: incident-1234\n    reason: Payments outage, hands off prod\n"
        f"    start: {(now - timedelta(hours=1)).isoformat()}\n"
        f"    end: {(now + timedelta(days=1)).isoformat()}\n    envs: [prod]\n"
    )
    server = HeraldServer(slack=slack, database=tmp_path / "herald.db", log=tmp_path / "log")
    server.env["HERALD_CONFIG"] = str(catalogue)
    await server.start()
    yield server
    await server.stop()


async def test_in_a_freeze_the_gate_step_fails_the_job_before_anything_starts(
    frozen_herald: HeraldServer, slack: FakeSlack, tmp_path: Path
) -> None:
    """The gate exits 2 saying which freeze and why; started, the deploy and the failure
    report never run, and Herald holds the release as planned only."""
    job = await play(frozen_herald, tmp_path, deploy_exit=0, token=INGEST_TOKEN)
    assert job.failed
    assert f"gate: frozen for {RID}" in job.log()
    assert "(incident-1234: Payments outage, hands off prod)" in job.log()
    assert {job.outcome(s) for s in ("started", "deploy", "deployed", "failed")} == {"skipped"}
    status, body = await release(frozen_herald, RID)
    assert (status, list(events(body))) == (200, ["planned"])


async def test_the_action_refuses_a_command_herald_emit_does_not_have(tmp_path: Path) -> None:
    """`command: deploy`: herald emit has manifest, event and gate; the step fails saying so."""
    workdir = make_checkout(tmp_path, deploy_exit=0)
    context = make_context(workdir, herald_url="http://127.0.0.1:9", token="t")
    job = Job()
    code, _ = await run_action(
        context,
        job,
        {"herald-url": "http://127.0.0.1:9", "token": "t", "command": "deploy"},
        env={},
    )
    assert code == 2
    assert "command must be manifest, event or gate" in job.log()
