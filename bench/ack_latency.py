"""Ack latency of `/deploy status` at 1, 10 and 50 concurrent requests, next to bare Bolt apps.

Servers, each in its own process, each served by aiohttp on a loopback port the way Herald
serves Slack (`to_bolt_request` → `async_dispatch` → `to_aiohttp_response` on a POST route):

  herald     Herald as `herald serve` builds it (`build_app`, fresh SQLite file, outbox worker
             running, a catalog wiring webapp/prod to an Argo CD app with a canary Rollout, two
             seeded releases). Bolt with process_before_response=True; the inbox middleware
             inserts one SQLite row per request before the listener runs; the listener acks and
             spawns the slow work (release reads, Argo CD app + Rollout, the response_url POST).
             That work runs in the same process after the ack and competes with later acks.
  bolt       a bare `AsyncApp` whose one `/deploy` listener only does `await ack()`, with
             Bolt's default process_before_response=False (the ack is found by a 10 ms poll).
  bolt-pbr   the same bare app with process_before_response=True: the floor.

With --diagnose, two Herald variants (same build, patched in their own process) split the
cost: herald-noinbox (the inbox middleware's `record_once` answers True without SQL) and
herald-nowork (the work spawned after the ack is dropped: no status, no reply).

FakeSlack and FakeArgoCD run in another process, and the load generator (one aiohttp client)
in this one: no server shares its event loop or CPU time with the client or the fakes (the
machine's cores are shared by all of them). For each concurrency c the servers are measured
one after another, so the ratios come from the same minute of the same run.

Each request is a signed `/deploy status webapp` slash command with a unique trigger_id (the
inbox drops duplicates) and a fresh timestamp and signature, built before its timer starts;
c workers keep c requests in flight (a closed loop). Latency = send → HTTP 200 (the ack)
fully read. Each cell starts with a warm-up (Bolt's first request calls auth.test;
keep-alive connections open). A Herald cell ends only when every reply of the cell has
reached FakeSlack and was a full status (exactly once), so no work spills into the next cell.
Row `1 idle`: Herald with one request at a time and the next sent only once the previous
reply has arrived: the ack with nothing else running, as for one on-call engineer.

Also reported: acks slower than Slack's 3 s deadline, the server-side handler time (an
aiohttp middleware around the route), the inbox insert (`record_once`, timed by a wrapper)
and each server's CPU time per request (process time over the cell, all threads, including
Herald's work after the ack). Logging is quiet and the access log off, as in bench/harness.py.

Usage: python bench/ack_latency.py [--requests 500] [--concurrency 1,10,50] [--diagnose]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bench.harness import (
    quiet_logging,
    sampled,
    summarize_samples,
    summary_ms,
    table,
    write_results,
)
from bench.processes import (
    APP,
    ARGOCD_TOKEN,
    FEED,
    INGEST_TOKEN,
    NEW_SHA,
    OLD_SHA,
    SETTLE_TIMEOUT,
    SIGNING_SECRET,
    Reply,
    Server,
    herald_settings,
    server_process,
)

SERVERS = ("bolt-pbr", "bolt", "herald", "herald-workers")
DIAGNOSTIC = ("herald-noinbox", "herald-nowork")
HERALDS = ("herald", "herald-workers")  # the rows set against the bare apps
REPLYING = ("herald", "herald-workers", "herald-noinbox")  # POST a status reply per request
LABELS = {
    "bolt-pbr": "bare Bolt, pbr=True",
    "bolt": "bare Bolt (default)",
    "herald": "Herald",
    "herald-workers": "Herald --workers 1",
    "herald-noinbox": "Herald, no inbox insert",
    "herald-nowork": "Herald, no work after ack",
}
CATALOG = {  # as tests/scenarios/deploy/world.py
    "admins": ["U0ADMIN"],
    "services": {
        "webapp": {
            "owners": ["U0OWNER", "S0BILLING"],
            "environments": {
                "prod": {"argocd_app": APP, "rollout": {"name": "webapp", "namespace": "webapp"}},
                "staging": {"argocd_app": "webapp-staging"},
            },
        }
    },
}
TEXT = "status webapp"
WARMUP_MIN = 20
IDLE = "1 idle"
SLACK_DEADLINE = 3.0  # seconds Slack waits for the ack before showing the user an error


# -- the server processes ------------------------------------------------------------------


def _server(role: str, config: dict[str, Any]) -> contextlib.AbstractAsyncContextManager[Server]:
    """One of SERVERS or DIAGNOSTIC in its own process (`herald-workers` starts workers)."""
    return server_process(role, config, start=_start_server, daemon=role != "herald-workers")


async def _start_server(
    stack: contextlib.AsyncExitStack, role: str, config: dict[str, Any]
) -> tuple[Reply, Callable[[], Reply]]:
    handler_s: list[float] = []
    inbox_s: list[float] = []
    info: Reply = {}
    if role.startswith("herald"):
        app = _herald_app(stack, config, inbox_s, variant=role.removeprefix("herald"), info=info)
    else:
        app = _bare_bolt_app(config, process_before_response=role == "bolt-pbr")
    app.middlewares.append(_timing_middleware(handler_s))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]

    def stats() -> Reply:
        reply = {"handler_s": handler_s[:], "inbox_s": inbox_s[:]}
        handler_s.clear()
        inbox_s.clear()
        return reply

    return {"url": f"http://{host}:{port}", **info}, stats


def _timing_middleware(samples: list[float]) -> Any:
    @web.middleware
    async def timed(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            samples.append(time.perf_counter() - started)

    return timed


def _herald_app(
    stack: contextlib.AsyncExitStack,
    config: dict[str, Any],
    inbox_s: list[float],
    variant: str,
    *,
    info: Reply,
) -> web.Application:
    """Herald as `herald serve` builds it; `info["database"]` is set to its SQLite file."""
    from bot.catalog import Catalog
    from bot.serving.server import build_server
    from bot.slack import inbox
    from bot.slack.tasks import BackgroundTasks, ErrorReply
    from bot.store.database import Database
    from bot.store.inbox import record_once

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="herald-bench-ack-"))
    info["database"] = database = str(Path(tmp) / "herald.db")
    settings = herald_settings(
        config,
        database_url=f"sqlite:///{database}",
        argocd_url=config["argocd_url"],
        argocd_token=ARGOCD_TOKEN,
        workers=1 if variant == "-workers" else 0,
    )

    async def timed_record_once(
        *,
        database: Database,
        key: str,
        source: str,
        now: datetime,
        request: dict[str, Any] | None = None,
        refresh: bool = False,
        claimed_by: str | None = None,
    ) -> bool:
        if variant == "-noinbox":
            return True
        started = time.perf_counter()
        try:
            return await record_once(
                database=database,
                key=key,
                source=source,
                now=now,
                request=request,
                refresh=refresh,
                claimed_by=claimed_by,
            )
        finally:
            inbox_s.append(time.perf_counter() - started)

    def drop(
        self: BackgroundTasks,
        work: Coroutine[Any, Any, None],
        *,
        on_error: ErrorReply,
        key: str | None = None,
        done_as: str = "answered",
    ) -> None:
        work.close()

    # The middleware looks `record_once` up in its module's globals on every request.
    inbox.record_once = timed_record_once  # type: ignore[attr-defined]
    if variant == "-nowork":
        BackgroundTasks.spawn = drop  # type: ignore[method-assign]
    return build_server(settings, catalog=Catalog.model_validate(CATALOG))


def _bare_bolt_app(config: dict[str, Any], *, process_before_response: bool) -> web.Application:
    """The bare Bolt app as people write it: one listener that only acks."""
    client = AsyncWebClient(token=config["slack_token"], base_url=config["slack_api_url"])
    bolt = AsyncApp(
        client=client,
        signing_secret=SIGNING_SECRET,
        process_before_response=process_before_response,
    )

    @bolt.command("/deploy")
    async def deploy(ack: AsyncAck) -> None:
        await ack()

    async def slack_events(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    async def hook(request: web.Request) -> web.StreamResponse:
        """The webhook floor: check the ingest token, answer 202 without work."""
        if request.headers.get("Authorization") != f"Bearer {INGEST_TOKEN}":
            return web.Response(status=401)
        await request.read()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/hooks/{source}", hook)
    return app


# -- the load generator --------------------------------------------------------------------


class Requests:
    """Signed `/deploy status webapp` bodies, each with its own trigger_id and response_url."""

    def __init__(self, slack_url: str) -> None:
        self._slack_url = slack_url
        self._verifier = SignatureVerifier(SIGNING_SECRET)
        self._ids = itertools.count(1)

    def next(self, server: str) -> tuple[bytes, dict[str, str], str]:
        """The body, its signed headers, and the key of its response URL."""
        n = next(self._ids)
        key = f"{server}-{n}"
        body = urlencode(
            {
                "token": "legacy-unused",
                "team_id": "T0HERALD",
                "team_domain": "herald-bench",
                "channel_id": FEED,
                "channel_name": "release-feed",
                "user_id": "U0OWNER",
                "user_name": "owner",
                "command": "/deploy",
                "text": TEXT,
                "api_app_id": "A0HERALD",
                "response_url": f"{self._slack_url}/response/{key}",
                "trigger_id": f"{n}.{os.getpid()}.{key}",
            }
        )
        stamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return body.encode(), headers, key


@dataclass
class World:
    fakes: Server
    servers: dict[str, Server]
    requests: Requests
    replies_sent: int = 0  # requests sent to replying servers: replies FakeSlack must get
    complete: int = 0  # full status replies FakeSlack has received
    argocd_calls: int = 0
    sample: Reply | None = field(default=None, repr=False)
    sent_at: dict[str, float] = field(default_factory=dict, repr=False)  # key → time.time()
    answered_at: dict[str, float] = field(default_factory=dict, repr=False)  # at FakeSlack

    async def fakes_stats(self) -> int:
        stats = await self.fakes.call("stats")
        self.complete += stats["complete"]
        self.argocd_calls = stats["argocd_calls"]
        self.sample = self.sample or stats["sample"]
        self.answered_at.update(stats["answered_at"])
        return int(stats["responses"])

    async def settle(self, *, poll: float = 0.02) -> None:
        """Wait until FakeSlack has a reply for every request sent to a replying server."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (arrived := await self.fakes_stats()) < self.replies_sent:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{arrived} of {self.replies_sent} replies arrived")
            await asyncio.sleep(poll)
        if arrived > self.replies_sent:
            raise RuntimeError(f"{arrived} replies, expected {self.replies_sent}")


async def fire(
    session: aiohttp.ClientSession,
    url: str,
    world: World,
    role: str,
    n: int,
    c: int,
    *,
    idle: bool = False,
    keys: list[str] | None = None,
) -> list[float]:
    """n requests, c in flight; seconds from send to the 200 fully read, in completion order.
    `keys` gets each request's response URL key.

    idle: one at a time, each sent only once the previous one's reply reached FakeSlack.
    """
    latencies: list[float] = []
    keys = [] if keys is None else keys
    todo = iter(range(n))
    replies = role in REPLYING

    async def worker() -> None:
        for _ in todo:
            body, headers, key = world.requests.next(role)
            keys.append(key)
            world.sent_at[key] = time.time()
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                latencies.append(time.perf_counter() - sent)
                if response.status != 200:
                    text = (await response.text())[:200]
                    raise RuntimeError(f"{role}: HTTP {response.status} {text}")
            world.replies_sent += replies
            if idle:
                await world.settle(poll=0.001)

    await asyncio.gather(*(worker() for _ in range(1 if idle else c)))
    return latencies


async def measure(
    world: World, role: str, n: int, c: int, *, idle: bool = False, spy: Path | None = None
) -> Reply:
    """One cell: warm up, then n requests with c in flight; the replies must be in after.
    With `spy` (a folder), py-spy samples Herald's processes during the timed requests."""
    server = world.servers[role]
    url = server.info["url"] + "/slack/events"
    replies = role in REPLYING
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c)) as session:
        await fire(session, url, world, role, max(WARMUP_MIN, 2 * c), c)
        await world.settle()
        before = await server.call("stats")
        complete, argocd_calls = world.complete, world.argocd_calls
        load = os.getloadavg()[0]
        started = time.perf_counter()
        keys: list[str] = []
        samples = None
        if spy is not None and role in HERALDS:
            samples = spy / f"{role}-c{'1idle' if idle else c}.txt"
        async with sampled(server.process.pid or 0, samples):
            latencies = await fire(session, url, world, role, n, c, idle=idle, keys=keys)
            elapsed = time.perf_counter() - started
            await world.settle()  # the work after the acks is sampled too
            drained = time.perf_counter() - started
        after = await server.call("stats")
    result: Reply = {
        "server": role,
        "concurrency": IDLE if idle else c,
        "ack_ms": summary_ms(latencies),
        "handler_ms": summary_ms(after["handler_s"]),
        "acks_per_s": n / elapsed,
        "over_3s": sum(1 for v in latencies if v > SLACK_DEADLINE),
        "server_cpu_ms_per_request": (after["cpu_s"] - before["cpu_s"]) * 1000 / n,
        "load_1m_at_start": round(load, 2),
    }
    if after["inbox_s"]:
        result["inbox_insert_ms"] = summary_ms(after["inbox_s"])
    if samples is not None:
        pid = server.process.pid or 0
        result["samples"] = {
            "file": str(samples),
            "by_package": summarize_samples(samples, root=pid),
        }
    if replies:
        answers = [world.answered_at[k] - world.sent_at[k] for k in keys]
        result["reply_ms"] = summary_ms(answers)  # send → the status at the response_url
        result["replies_done_s"] = drained
        result["argocd_calls_per_request"] = (world.argocd_calls - argocd_calls) / n
        if world.complete - complete != n:
            raise RuntimeError(f"{role}: {world.complete - complete} of {n} full status replies")
    return result


async def seed_herald(session: aiohttp.ClientSession, url: str) -> None:
    """Two webapp/prod releases, as the deploy scenarios have, so status reads real rows.
    Seeding a database seeded before (a benchmark's next run) finds them: 200, a repeat."""
    from bot.examples import example_manifest

    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    old = {**example_manifest(), "id": "rel-1", "version": "1.41.3"}
    old["git"] = {**old["git"], "commit": OLD_SHA[:7]}
    new = {**example_manifest(), "id": "rel-2"}
    new["git"] = {**new["git"], "commit": NEW_SHA[:7]}
    for manifest in (old, new):
        posts: list[tuple[str, dict[str, Any]]] = [("/api/v1/releases", manifest)]
        for event in ("release.started", "release.deployed"):
            posts.append((f"/api/v1/releases/{manifest['id']}/events", {"event": event}))
        for path, body in posts:
            async with session.post(url + path, json=body, headers=headers) as response:
                if response.status not in (200, 201):
                    raise RuntimeError(f"seeding: HTTP {response.status} {await response.text()}")
    for _ in range(500):
        pending = 0
        for rid in ("rel-1", "rel-2"):
            async with session.get(f"{url}/api/v1/releases/{rid}", headers=headers) as response:
                pending += int((await response.json())["messages_pending"])
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("seeded release messages were not delivered")


@contextlib.asynccontextmanager
async def world(roles: tuple[str, ...], profile: str | None) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        fakes = await stack.enter_async_context(server_process("fakes", {}))
        config = {**fakes.info, "profile": profile}
        starting = [stack.enter_async_context(_server(r, config)) for r in roles]
        servers = dict(zip(roles, await asyncio.gather(*starting), strict=True))
        async with aiohttp.ClientSession() as session:
            for role in roles:
                if role.startswith("herald"):
                    await seed_herald(session, servers[role].info["url"])
        yield World(fakes, servers, Requests(fakes.info["slack_url"]))


# -- report --------------------------------------------------------------------------------


def ratios(results: list[Reply]) -> list[Reply]:
    """Herald over each bare app, per cell; the idle row is set against the bare apps at c=1
    (they do nothing after the ack, so their c=1 closed loop is already idle)."""
    by = {(r["server"], r["concurrency"]): r["ack_ms"] for r in results}
    out = []
    for r in results:
        if r["server"] not in HERALDS:
            continue
        c = r["concurrency"]
        row: Reply = {"server": r["server"], "concurrency": c}
        for base, name in (("bolt", "vs_bolt_default"), ("bolt-pbr", "vs_bolt_pbr")):
            if (other := by.get((base, 1 if c == IDLE else c))) is None:
                break  # an idle row without a c=1 cell to set it against
            row[name] = {q: r["ack_ms"][q] / other[q] for q in ("p50", "p90", "p99")}
        else:
            out.append(row)
    return out


def print_tables(results: list[Reply], ratio_rows: list[Reply]) -> None:
    rows = []
    for r in results:
        s = r["ack_ms"]
        inbox = r.get("inbox_insert_ms", {}).get("p50", "")
        rows.append(
            (
                r["concurrency"],
                LABELS[r["server"]],
                s["n"],
                s["p50"],
                s["p90"],
                s["p99"],
                s["max"],
                r["handler_ms"]["p50"],
                inbox,
                r["acks_per_s"],
                r["server_cpu_ms_per_request"],
            )
        )
    print("Ack latency of `/deploy status webapp` (ms); client, servers and fakes in own processes")
    headers = ("c", "server", "n", "p50", "p90", "p99", "max", "handler p50", "inbox p50")
    print(table((*headers, "acks/s", "cpu ms/req"), rows))
    ratio_table = [
        (
            LABELS[r["server"]],
            r["concurrency"],
            r["vs_bolt_default"]["p50"],
            r["vs_bolt_default"]["p99"],
            r["vs_bolt_pbr"]["p50"],
            r["vs_bolt_pbr"]["p99"],
        )
        for r in ratio_rows
    ]
    ratio_headers = (
        "server",
        "c",
        "p50 vs default",
        "p99 vs default",
        "p50 vs floor",
        "p99 vs floor",
    )
    if ratio_table:  # a subset of --servers may leave nothing to set against
        print("\nHerald / bare Bolt, ratio of ack latency")
        print(table(ratio_headers, ratio_table))
    for r in results:
        if "inbox_insert_ms" in r and r["server"] in HERALDS:
            i, a = r["inbox_insert_ms"], r["reply_ms"]
            print(
                f"  {LABELS[r['server']]} c={r['concurrency']}: inbox insert p50 {i['p50']:.2f} "
                f"p99 {i['p99']:.2f} ms; full answer (response_url) p50 {a['p50']:.1f} p99 "
                f"{a['p99']:.1f} ms; all {r['ack_ms']['n']} replies in "
                f"{r['replies_done_s']:.2f}s from the first send"
            )
    for r in results:
        for process, shares in r.get("samples", {}).get("by_package", {}).items():
            where = ", ".join(f"{name} {share:.0f}%" for name, share in shares)
            print(f"  {LABELS[r['server']]} c={r['concurrency']} {process} samples: {where}")
    for r in results:
        if r["over_3s"]:
            print(
                f"  {LABELS[r['server']]} c={r['concurrency']}: {r['over_3s']} acks took longer "
                "than Slack's 3 s (Slack would show the user an error and retry)"
            )


async def run(
    requests: int,
    concurrency: list[int],
    profile: str | None = None,
    *,
    diagnose: bool = False,
    tag: str = "",
    spy: Path | None = None,
    servers: tuple[str, ...] = (),
) -> Reply:
    quiet_logging()
    if spy is not None:
        os.makedirs(spy, exist_ok=True)
    roles: tuple[str, ...] = SERVERS + DIAGNOSTIC if diagnose else SERVERS
    if servers:
        roles = tuple(role for role in roles if role in servers)
    results = []
    started = time.monotonic()
    async with world(roles, profile) as w:
        for c in concurrency:
            for role in roles:
                results.append(await measure(w, role, requests, c, spy=spy))
        for role in roles:
            if role in REPLYING:
                results.append(await measure(w, role, requests, 1, idle=True, spy=spy))
    ratio_rows = ratios(results)
    print_tables(results, ratio_rows)
    data = {
        "benchmark": "ack_latency",
        "command": f"/deploy {TEXT}",
        "requests_per_cell": requests,
        "concurrency": concurrency,
        "processes": "client | fakes (FakeSlack + FakeArgoCD) | one per server",
        "elapsed_s": time.monotonic() - started,
        "results": results,
        "herald_over_bolt": ratio_rows,
        "sample_reply": w.sample,
    }
    print(f"→ {write_results('ack_latency' + tag, data)}")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per server and c")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(v) for v in s.split(",")],
        default=[1, 10, 50],
        help="comma-separated in-flight counts",
    )
    parser.add_argument(
        "--diagnose", action="store_true", help="also Herald without inbox / without work"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile Herald's server process, dump stats to FILE"
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        type=Path,
        help="sample Herald's processes with py-spy in each cell; collapsed stacks into DIR",
    )
    parser.add_argument(
        "--servers",
        type=lambda s: tuple(s.split(",")),
        default=(),
        help=f"comma-separated subset of {', '.join(SERVERS + DIAGNOSTIC)}",
    )
    parser.add_argument("--tag", default="", help="suffix of the results file")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    await run(
        args.requests,
        args.concurrency,
        args.profile,
        diagnose=args.diagnose,
        tag=args.tag,
        spy=args.py_spy,
        servers=args.servers,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
