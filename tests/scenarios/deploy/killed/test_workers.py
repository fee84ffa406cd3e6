"""`herald serve --workers 1`: the server only verifies, records and acks; a worker process
answers. A worker killed mid-command is replaced and the command carried out once; the server
killed after an ack loses nothing, and the Herald started next carries it out once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.conftest import FEED
from tests.herald_process import HeraldServer
from tests.scenarios.deploy.killed import (
    herald_on,
    promotions,
)
from tests.slack.conversation import Conversation
from tests.waiting import eventually, stays

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).parents[4] / "bot" / "examples" / "release-manifest.json"
LATE = "late: Herald restarted while handling this"
POST = {"method": "chat.postMessage"}


@pytest.fixture
async def herald(
    slack: FakeSlack, argocd: FakeArgoCD, tmp_path: Path
) -> AsyncIterator[HeraldServer]:
    server = herald_on(slack, argocd, tmp_path, HERALD_WORKERS="1")
    yield server
    if server.running:
        await server.stop()


def workers_of(server: HeraldServer) -> list[int]:
    """The pids of the worker processes `herald serve` spawned (not multiprocessing's helper)."""
    assert server.process is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, ...
        if int(fields[1]) == server.process.pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


async def scrape(server: HeraldServer) -> dict[str, float]:
    """The server's /metrics, each sample by its name and labels: `name{a="1"}`."""
    async with aiohttp.ClientSession() as session, session.get(server.url + "/metrics") as got:
        assert got.status == 200
        text = await got.text()
    return {
        sample.name + _labels(sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` that carry `labels` (and any others)."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        v
        for key, v in samples.items()
        if key.startswith(name + "{") and all(label in key for label in wanted)
    )


def metric_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("herald-metrics-*"))


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_the_server_acks_and_its_worker_answers_and_posts(
    herald: HeraldServer, chat: Conversation, slack: FakeSlack
) -> None:
    await herald.start()
    assert len(workers_of(herald)) == 1
    reply = await chat.deploy("status webapp", wait=10)
    assert "webapp" in reply.text
    manifest = json.loads(EXAMPLE.read_text())
    assert await herald.post("/api/v1/releases", manifest) == 201
    await eventually(
        lambda: len(slack.posted(FEED)) == 1,
        timeout=10,
        what="the worker to post the planned release to the feed",
    )


async def test_more_commands_at_once_than_a_worker_holds_are_all_answered_promptly(
    herald: HeraldServer, chat: Conversation
) -> None:
    herald.env["HERALD_RESUME_GRACE_SECONDS"] = "30"  # the default: the worker polls every 10 s
    await herald.start()
    acks = await asyncio.gather(*(chat.send("status webapp") for _ in range(48)))
    assert {ack.status for ack in acks} == {200}
    # 48 is more than a worker carries out at once: it claims the rest as its own finish,
    # long before its next poll
    await eventually(
        lambda: all(chat.replies(ack.key) for ack in acks),
        timeout=5,
        what="every status to be answered",
    )


async def test_a_worker_killed_mid_command_is_replaced_and_the_command_runs_once(
    herald: HeraldServer, chat: Conversation, argocd: FakeArgoCD
) -> None:
    await herald.start()
    [worker] = workers_of(herald)
    argocd.slow_next(30.0)  # Argo CD hangs on the promote's first call ...
    cut = await chat.send("promote webapp")
    assert cut.status == 200
    await eventually(lambda: argocd.holding == 1, timeout=10, what="the worker to call Argo CD")
    os.kill(worker, signal.SIGKILL)  # ... and the worker dies before any change

    reply = await chat.reply(cut.key, wait=15)
    assert any(LATE in note for note in reply.notes)
    assert promotions(argocd) == 1
    [replacement] = workers_of(herald)
    assert replacement != worker
    await stays(lambda: promotions(argocd) == 1 and len(chat.replies(cut.key)) == 1, seconds=2)
    samples = await scrape(herald)
    assert total(samples, "herald_commands_total", outcome="late") == 1
    assert total(samples, "herald_worker_restarts_total") == 1


async def test_the_server_killed_after_an_ack_loses_nothing(
    herald: HeraldServer, chat: Conversation, argocd: FakeArgoCD
) -> None:
    await herald.start()
    [worker] = workers_of(herald)
    argocd.slow_next(30.0)
    cut = await chat.send("promote webapp")
    assert cut.status == 200
    await eventually(lambda: argocd.holding == 1, timeout=10, what="the worker to call Argo CD")
    await herald.kill()  # the server dies; its worker exits with it, the command unfinished
    await eventually(lambda: not alive(worker), timeout=10, what="the worker to exit")
    assert promotions(argocd) == 0 and chat.replies(cut.key) == []

    await herald.start()
    reply = await chat.reply(cut.key, wait=15)
    assert any(LATE in note for note in reply.notes)
    await stays(lambda: promotions(argocd) == 1 and len(chat.replies(cut.key)) == 1, seconds=2)


async def test_what_a_worker_counted_is_on_the_servers_metrics_and_outlives_the_worker(
    herald: HeraldServer, chat: Conversation, slack: FakeSlack, tmp_path: Path
) -> None:
    herald.env["TMPDIR"] = str(tmp_path)  # where the test sees its metric files
    await herald.start()
    [worker] = workers_of(herald)
    slack.fail_next("chat.postMessage")  # the feed post fails once, then goes out
    assert await herald.post("/api/v1/releases", json.loads(EXAMPLE.read_text())) == 201
    await eventually(lambda: len(slack.posted(FEED)) == 1, timeout=10, what="the feed post")
    await chat.deploy("status webapp", wait=10)

    async def answered(count: int) -> bool:
        return total(await scrape(herald), "herald_commands_total", outcome="answered") == count

    await eventually(lambda: answered(1), timeout=5, what="the worker to count its answer")
    before = await scrape(herald)
    assert total(before, "herald_slack_call_seconds_count", **POST) >= 2
    assert total(before, "herald_slack_call_errors_total", **POST) == 1
    assert total(before, "herald_workers_up") == 1
    assert total(before, "herald_worker_restarts_total") == 0

    os.kill(worker, signal.SIGKILL)
    await eventually(
        lambda: workers_of(herald) not in ([], [worker]), timeout=10, what="a new worker"
    )
    after = await scrape(herald)
    assert total(after, "herald_worker_restarts_total") == 1
    [files] = metric_dirs(tmp_path)
    assert list(files.glob(f"*_{worker}.db")) == []  # folded into the dead workers' totals
    for name, labels in (
        ("herald_slack_call_seconds_count", POST),
        ("herald_slack_call_errors_total", POST),
        ("herald_commands_total", {"outcome": "answered"}),
        ("herald_job_failures_total", {}),
    ):
        assert total(after, name, **labels) >= total(before, name, **labels), name
    await chat.deploy("status webapp", wait=10)  # the new worker answers
    await eventually(lambda: answered(2), timeout=5, what="both answers in the total")
    assert total(await scrape(herald), "herald_workers_up") == 1

    await herald.stop()
    assert metric_dirs(tmp_path) == []


async def test_a_killed_servers_metric_files_are_removed_when_herald_starts_again(
    herald: HeraldServer, tmp_path: Path
) -> None:
    herald.env["TMPDIR"] = str(tmp_path)
    await herald.start()
    [worker] = workers_of(herald)
    [left] = metric_dirs(tmp_path)
    await herald.kill()
    await eventually(lambda: not alive(worker), timeout=10, what="the worker to exit")
    assert metric_dirs(tmp_path) == [left]

    await herald.start()
    [current] = metric_dirs(tmp_path)
    assert current != left
