"""Servers in child processes for the benchmarks, the fakes' process, CPU and RSS sampling.

A benchmark starts each server it measures with `server_process(role, config, start=...)`:
a fresh interpreter (multiprocessing's spawn) runs `start(stack, role, config)`, sends back
what it returns first (its address), then answers `stats` with the second (a callable) plus
its CPU seconds, until `stop`. `start` must be a module-level function (it is pickled by
name). The role `fakes` is FakeSlack and FakeArgoCD (`start_fakes`): no server shares its
event loop or CPU time with the load generator in the benchmark's own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from bench.harness import maybe_profile, quiet_logging

SIGNING_SECRET = "bench-signing-secret"
INGEST_TOKEN = "bench-ingest-token"
ARGOCD_TOKEN = "argocd-bench-token"
FEED, OPS = "CFEED", "COPS"
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
NEW_SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"
APP = "webapp-prod"
SETTLE_TIMEOUT = 60.0
FAKES_NICENESS = 10
START_TIMEOUT = 60.0
Reply = dict[str, Any]
Stats = Callable[[], Reply]
Start = Callable[[contextlib.AsyncExitStack, str, dict[str, Any]], Awaitable[tuple[Reply, Stats]]]
# (channel, "thread" or "root", release id, event or note type) of one chat.postMessage
PostKey = tuple[str, str, str, str]


# -- the child process ---------------------------------------------------------------------


def _child(role: str, conn: Connection, config: dict[str, Any], start: Start) -> None:
    """A server process: serve, send its address, then answer `stats` until `stop`."""
    quiet_logging()
    profiled = role == config.get("profile_role", "herald")
    with maybe_profile(config.get("profile") if profiled else None):
        from bot.serving.loop import run  # the loop `herald serve` runs on, for every role

        run(_serve(role, conn, config, start))


async def _serve(role: str, conn: Connection, config: dict[str, Any], start: Start) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if role == "fakes":
            info, stats = await start_fakes(stack, config)
        else:
            info, stats = await start(stack, role, config)
        conn.send(info)
        loop = asyncio.get_running_loop()
        while True:
            try:
                command = await loop.run_in_executor(None, conn.recv)
            except EOFError:  # the parent went away
                return
            if command == "stop":
                break
            conn.send({**stats(), "cpu_s": time.process_time() + children_cpu_s()})
    conn.send("stopped")


def children_cpu_s() -> float:
    """CPU seconds of this process's live children (Herald's workers), from /proc."""
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            stat = Path(f"/proc/{child.pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # utime, stime: fields 14, 15
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid`, its reaped children and its live children (PostgreSQL's
    postmaster and its backends), from /proc; 0 where it cannot be read."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(p: int | str) -> list[str]:
        try:
            return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return []

    own = fields(pid)
    if not own:
        return 0.0
    total = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                total += sum(int(v) for v in fields(child)[11:13])
    return total / tick


@dataclass
class Server:
    role: str
    process: BaseProcess
    conn: Connection
    info: Reply

    async def call(self, command: str) -> Any:
        self.conn.send(command)
        if not await asyncio.to_thread(self.conn.poll, SETTLE_TIMEOUT):
            raise RuntimeError(f"{self.role}: no answer to {command!r}")
        return self.conn.recv()


async def _no_server(
    stack: contextlib.AsyncExitStack, role: str, config: dict[str, Any]
) -> tuple[Reply, Stats]:
    raise RuntimeError(f"no start function for role {role!r}")


@contextlib.asynccontextmanager
async def server_process(
    role: str, config: dict[str, Any], *, start: Start = _no_server, daemon: bool = True
) -> AsyncIterator[Server]:
    """`start` served in its own process (`daemon=False` for one that starts processes)."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter, no inherited loop
    parent, child = context.Pipe()
    process = context.Process(
        target=_child, args=(role, child, config, start), name=f"bench-{role}", daemon=daemon
    )
    process.start()
    child.close()
    try:
        if not await asyncio.to_thread(parent.poll, START_TIMEOUT):
            raise RuntimeError(f"{role} did not start")
        server = Server(role, process, parent, parent.recv())
        yield server
        await server.call("stop")
    finally:
        parent.close()
        await asyncio.to_thread(process.join, 10)
        if process.is_alive():  # pragma: no cover
            process.terminate()


def herald_settings(config: dict[str, Any], **overrides: Any) -> Any:
    """Settings of a Herald a benchmark serves: the fakes' Slack (`config`, from
    `start_fakes`), the feed and ops channels, the signing secret and ingest token above."""
    from bot.settings import Settings

    return Settings(
        slack_bot_token=config["slack_token"],
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=config["slack_api_url"],
        feed_channel=FEED,
        ops_channel=OPS,
        ingest_token=INGEST_TOKEN,
        **overrides,
    )


# -- the fakes -----------------------------------------------------------------------------


async def start_fakes(
    stack: contextlib.AsyncExitStack, config: dict[str, Any]
) -> tuple[Reply, Stats]:
    """FakeSlack (the feed, ops and `config["channels"]`) and FakeArgoCD with webapp's apps.
    `stats` reports the status replies at response URLs (ack_latency) and, with
    `config["count_posts"]`, every chat.postMessage since the last call as (PostKey, at)."""
    from standins.argocd import FakeArgoCD
    from standins.argocd_rollout import FakeRollout
    from standins.slack import FakeSlack

    # Slack and Argo CD run on other machines in production: here their stand-ins share two
    # cores with the server measured, so they yield to it, as Herald's worker does
    os.nice(FAKES_NICENESS)

    channels = (FEED, OPS, *config.get("channels", ()))
    slack = await stack.enter_async_context(FakeSlack(channels=channels))
    slack.usergroups["S0BILLING"] = ["U0MEMBER"]
    limit_posts_per_channel(slack, config.get("slack_limit"))
    argocd = await stack.enter_async_context(FakeArgoCD(token=ARGOCD_TOKEN))
    argocd.add_app(
        APP,
        revision=NEW_SHA,
        history=[(1, OLD_SHA), (2, NEW_SHA)],
        auto_sync=True,
        rollout=FakeRollout("webapp", "webapp"),
    )
    argocd.add_app(
        "webapp-staging", revision=NEW_SHA, history=[(4, OLD_SHA), (5, NEW_SHA)], auto_sync=False
    )
    info = {
        "slack_url": slack.url,
        "slack_api_url": slack.api_url,
        "slack_token": slack.token,
        "argocd_url": argocd.url,
    }
    replies = _replies_since(slack, argocd)
    posts = _posts_since(slack) if config.get("count_posts") else dict

    def stats() -> Reply:
        return {**replies(), **posts()}

    return info, stats


def limit_posts_per_channel(slack: Any, per_second: float | None) -> None:
    """Slack's limit of about one chat.postMessage per second per channel (short bursts
    allowed), answered with 429 and Retry-After beyond it, as the stand-in models it."""
    if per_second is not None:
        slack.limit_posts_per_channel(per_second=per_second, burst=3)


def _replies_since(slack: Any, argocd: Any) -> Stats:
    seen = 0

    def stats() -> Reply:
        nonlocal seen
        new, seen = slack.responses[seen:], len(slack.responses)
        answered = {r["_key"]: slack.answered_at[r["_key"]] for r in new}
        # A full status: the section and the canary's buttons, no warning and no error.
        complete = sum(
            1 for r in new if len(r.get("blocks", [])) == 2 and ":warning:" not in r.get("text", "")
        )
        return {
            "responses": len(slack.responses),
            "complete": complete,
            "sample": new[0] if new else None,
            "argocd_calls": len(argocd.calls),
            "answered_at": answered,
        }

    return stats


def _posts_since(slack: Any) -> Stats:
    seen = throttled = 0

    def stats() -> Reply:
        nonlocal seen, throttled
        new, seen = slack.calls[seen:], len(slack.calls)
        tried = [c for c in new if c.method == "chat.postMessage"]
        posts = [(post_key(c.body), c.at) for c in tried if c.ok]  # a refused one is no post
        was, throttled = throttled, len(slack.post_limit.throttled) if slack.post_limit else 0
        refused = sum(1 for c in tried if not c.ok)
        return {"posts": posts, "throttled": throttled - was, "refused_posts": refused}

    return stats


def post_key(body: dict[str, Any]) -> PostKey:
    """(channel, thread or root, release id, event or note type) of a chat.postMessage, from
    its event metadata, as harness.call_key reads it; the type of a note (release notes,
    a superseded checkup) is its metadata event type."""
    metadata = body.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    payload = payload if isinstance(payload, dict) else {}
    kind = payload.get("event") or (metadata or {}).get("event_type")
    where = "thread" if body.get("thread_ts") else "root"
    return str(body.get("channel")), where, str(payload.get("id")), str(kind)


# -- CPU and memory ------------------------------------------------------------------------


def rss_kb(pid: int) -> dict[int, int]:
    """VmRSS in kB of pid and its descendants."""
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[p] = int(line.split()[1])
    return found


@dataclass
class RssPeak:
    """The peak VmRSS of some processes and their descendants, together and each."""

    total_kb: int = 0
    per_process_kb: dict[int, int] | None = None

    def take(self, pids: list[int]) -> None:
        now: dict[int, int] = {}
        for pid in pids:
            now.update(rss_kb(pid))
        self.total_kb = max(self.total_kb, sum(now.values()))
        peak = self.per_process_kb = self.per_process_kb or {}
        for p, kb in now.items():
            peak[p] = max(peak.get(p, 0), kb)


@contextlib.asynccontextmanager
async def rss_sampled(pids: list[int], *, every: float = 0.2) -> AsyncIterator[RssPeak]:
    """RSS of `pids` (and their children) sampled every `every` s while the block runs."""
    peak = RssPeak()
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            peak.take(pids)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    task = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        stop.set()
        await task
