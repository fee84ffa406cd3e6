"""`/deploy status` acks while a storm of webhooks arrives, next to a bare floor.

Each cell runs its server in its own process (bench/processes.py, as ack_latency.py: FakeSlack
and FakeArgoCD in another process, the load in this one): `herald` (as `herald serve` builds it,
fresh SQLite file), `herald-workers` (HERALD_WORKERS=1) and the floor `bolt-pbr` (a bare Bolt
AsyncApp, process_before_response=True, `await ack()` only, on an aiohttp app whose
`/hooks/*` route checks the bearer token and answers 202 without work).

Storm: an open loop at `--rate` webhooks/s over `--clients` connections for `--seconds`, half
Argo CD notifications (`/hooks/argocd`, on-deployed for many apps and revisions), half
Alertmanager v4 groups (`/hooks/alertmanager`, one firing alert each), with the bearer ingest
token a user sets. Meanwhile a second client sends signed `/deploy status webapp` commands at
`--status-rate`/s and times the ack (HTTP 200). Reported per cell: offered and accepted
events/s (accepted = 2xx, over the cell's whole wall time: the offer window plus the
drain of whatever the server had not answered by its end — a server slower than the rate
makes its cell longer), refused by status, status ack p50/p99/max, the server's CPU s per
wall second, RSS peak (VmRSS of the server process and its children, sampled every 0.2 s),
and Herald's ack p99 as a multiple of the floor's in the same run.

Lost: after the cell, the server's inbox (its SQLite file, read-only) must hold one row per
delivery Herald's answers said it took in — each new Alertmanager alert, each Argo CD
notification not ignored before it was recorded; `lost` is the shortfall.

Not measured (yet): the full answer time of the status commands under the storm; no
manifests are posted first, so Argo CD notifications for unknown releases are taken in and
ignored.

Usage: python bench/storm.py [--rate 500] [--clients 32] [--seconds 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sqlite3
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench.ack_latency import World, world
from bench.harness import summary_ms, table, write_results
from bench.processes import INGEST_TOKEN, rss_sampled

CELLS = ("bolt-pbr", "herald", "herald-workers")
HEADERS = {"Authorization": f"Bearer {INGEST_TOKEN}"}


def event(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th webhook of the storm: an Argo CD notification or an Alertmanager group."""
    service = f"svc{n % 97}"
    if n % 2:
        return "/hooks/argocd", {
            "trigger": "on-deployed",
            "app": f"{service}-prod",
            "revision": f"{n:040x}",
            "phase": "Succeeded",
            "health": "Healthy",
            "labels": {"herald.io/service": service, "herald.io/env": "prod"},
        }
    now = datetime.now(UTC).isoformat()
    return "/hooks/alertmanager", {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="HighErrorRate",service="{service}"}}-{n}',
        "status": "firing",
        "receiver": "herald",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"service": service, "env": "prod"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "service": service, "env": "prod"},
                "startsAt": now,
                "fingerprint": f"fp{n:012x}",
            }
        ],
    }


async def storm(url: str, *, rate: float, clients: int, seconds: float) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    owed: Counter[str] = Counter()  # accepted deliveries Herald said it recorded, per source
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    offered = 0

    async def client(session: aiohttp.ClientSession) -> None:
        while (n := await queue.get()) is not None:
            path, body = event(n)
            try:
                async with session.post(url + path, json=body, headers=HEADERS) as response:
                    answer = await response.read()
                    statuses[str(response.status)] += 1
                    if response.status < 300:
                        owed[path.rsplit("/", 1)[1]] += recorded(answer)
            except aiohttp.ClientError as error:
                statuses[type(error).__name__] += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(client(session)) for _ in range(clients)]
        started = time.perf_counter()
        for n in itertools.count():
            due = started + n / rate
            if due - started >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            queue.put_nowait(n)
            offered += 1
        offer_s = time.perf_counter() - started
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        wall = time.perf_counter() - started
    accepted = sum(v for k, v in statuses.items() if k.startswith("2"))
    return {
        "offered": offered,
        "offered_per_s": offered / offer_s,
        "accepted_per_s": accepted / wall,
        "accepted": accepted,
        "refused": {k: v for k, v in statuses.items() if not k.startswith("2")},
        "queued_at_end": queue.qsize(),
        "wall_s": wall,
        "owed": dict(owed),
    }


def recorded(answer: bytes) -> int:
    """How many inbox rows an accepted answer stands for: one per new Alertmanager alert,
    one per Argo CD notification unless it was ignored before it was taken in (an answer
    of nothing but a reason) or was a duplicate."""
    if not answer:  # the floor answers 202 and keeps nothing
        return 0
    body = json.loads(answer)
    if "alerts" in body:
        return int(body["alerts"]) - int(body["duplicates"])
    return 0 if body.get("duplicate") or set(body) == {"ignored"} else 1


def inbox_rows(database: str | None) -> dict[str, int]:
    """The server's inbox rows per source, read from its SQLite file (WAL: a reader sees
    every commit)."""
    if database is None:
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT source, count(*) FROM inbox GROUP BY source").fetchall()
    return {str(source): int(n) for source, n in rows}


async def statuses_during(
    w: World, role: str, url: str, stop: asyncio.Event, rate: float
) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            body, headers, _ = w.requests.next(role)
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
    return latencies


async def cell(w: World, role: str, args: argparse.Namespace) -> dict[str, Any]:
    server = w.servers[role]
    url = server.info["url"]
    stop = asyncio.Event()
    before = await server.call("stats")
    async with rss_sampled([server.process.pid or 0]) as rss:
        acks = asyncio.create_task(
            statuses_during(w, role, url + "/slack/events", stop, args.status_rate)
        )
        result = await storm(url, rate=args.rate, clients=args.clients, seconds=args.seconds)
        stop.set()
        latencies = await acks
    after = await server.call("stats")
    stored = inbox_rows(server.info.get("database"))
    owed = result.pop("owed")
    lost = {k: n - stored.get(k, 0) for k, n in owed.items()} if stored else None
    return {
        "server": role,
        **result,
        "recorded_owed": owed,
        "inbox_rows": stored,
        "lost": None if lost is None else sum(max(0, n) for n in lost.values()),
        "ack_ms": summary_ms(latencies),
        "acks": len(latencies),
        "cpu_per_s": (after["cpu_s"] - before["cpu_s"]) / result["wall_s"],
        "rss_peak_mb": rss.total_kb / 1024,
        "rss_peak_mb_per_process": {
            str(p): kb / 1024 for p, kb in (rss.per_process_kb or {}).items()
        },
        "load_1min": os.getloadavg()[0],
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every run's cells; prints the table and writes bench/results/storm[-tag].json."""
    rows = await measure_runs(args)
    print_table(rows)
    name = "storm" + (f"-{args.tag}" if args.tag else "")
    print(write_results(name, {"args": vars(args), "rows": rows}))
    return rows


async def measure_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for number in range(1, args.runs + 1):
        async with world(CELLS, None) as w:
            for role in CELLS:
                row = {"run": number, **await cell(w, role, args)}
                rows.append(row)
                print(row["server"], row["accepted_per_s"], row["ack_ms"], flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    floors = {r["run"]: r["ack_ms"]["p99"] for r in rows if r["server"] == "bolt-pbr"}
    body = [
        [
            r["run"],
            r["server"],
            f"{r['offered_per_s']:.0f}",
            f"{r['accepted_per_s']:.0f}",
            sum(r["refused"].values()),
            "" if r["lost"] is None else r["lost"],
            f"{r['ack_ms']['p50']:.1f}",
            f"{r['ack_ms']['p99']:.1f}",
            f"{r['ack_ms']['max']:.1f}",
            f"{r['ack_ms']['p99'] / floors[r['run']]:.1f}x",
            f"{r['cpu_per_s']:.2f}",
            f"{r['rss_peak_mb']:.0f}",
            f"{r['load_1min']:.1f}",
        ]
        for r in rows
    ]
    headers = ["run", "server", "offered/s", "accepted/s", "refused", "lost", "ack p50", "ack p99"]
    headers += ["ack max", "p99/floor", "cpu s/s", "RSS MB", "load"]
    print(table(headers, body))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--status-rate", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tag", default="")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
