"""Does a year slow Herald down? Database size with and without retention, ingest rate and
`/deploy status` latency on an empty database and at the end of a year.

The year is bench/year_traffic.py's (500 services, 10 deploys a week each; see its
assumptions), bulk-written into two SQLite files: every row (retention off), and what the
retention keeps with the default settings. Each of three databases — empty (the floor),
the year without retention, the year with it — then serves Herald as `herald serve` builds
it (outbox worker running, FakeSlack and FakeArgoCD on loopback, all in this process):

- `/deploy status webapp`: `--requests` signed slash commands one at a time, each sent once
  the previous reply arrived: the ack (send → HTTP 200, which waits on the inbox insert)
  and the reply (send → the status at the response_url, which reads the releases).
- ingest: `--releases` releases x 5 lifecycle POSTs from 8 clients, delivery running:
  accepted events per second.

Ratios are each year's figure over the empty database's, from the same run. Also timed: one
day's prune on the retained year (what the hourly job deletes in a day), through Herald's
own code. PostgreSQL is not measured here (its prune is covered by tests/store).

The year is written once; the three databases are then measured `--runs` times in turn, each
run's slash commands with trigger ids of their own (Herald's inbox dedupes a repeated one: it
acks and does not answer again).

Usage: python bench/retention.py [--requests 200] [--releases 200] [--runs 3] [--scale 1]
       [--tag -quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.ack_latency import CATALOG, Requests, seed_herald
from bench.harness import release_steps, summary_ms, table, write_results
from bench.processes import SIGNING_SECRET, start_fakes
from bench.year_traffic import Counts, write_year
from bot.store.database import Database, create_engine
from bot.store.migrate import upgrade
from bot.store.retention import RetentionPolicy, prune

INGEST_TOKEN = "bench-ingest-token"
CLIENTS = 8


@dataclass
class Herald:
    url: str
    session: aiohttp.ClientSession
    slack_url: str
    replies: Callable[[], int]  # status replies FakeSlack has received so far

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.post(self.url + path, json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"{path}: HTTP {response.status} {await response.text()}")


@contextlib.asynccontextmanager
async def herald(path: Path, *, retention: bool) -> AsyncIterator[Herald]:
    """Herald on the database at `path`, seeded with webapp's two releases (bench/ack_latency)."""
    from bot.app import build_app
    from bot.catalog import Catalog
    from bot.settings import Settings

    async with contextlib.AsyncExitStack() as stack:
        info, stats = await start_fakes(stack, {})
        days: dict[str, Any] = {"retention_inbox_days": 0, "retention_outbox_days": 0}
        if retention:
            days = {}
        settings = Settings(
            slack_bot_token=info["slack_token"],
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=info["slack_api_url"],
            feed_channel="CFEED",
            ops_channel="COPS",
            database_url=f"sqlite:///{path}",
            ingest_token=INGEST_TOKEN,
            argocd_url=info["argocd_url"],
            argocd_token="argocd-bench-token",
            checkup_interval_seconds=300,
            **days,
        )
        app = build_app(settings, catalog=Catalog.model_validate(CATALOG))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50), headers=headers)
        )
        await seed_herald(session, url)
        yield Herald(url, session, info["slack_url"], lambda: int(stats()["responses"]))


async def status_latency(herald: Herald, requests: int, *, key: str) -> dict[str, Any]:
    """One `/deploy status webapp` at a time, after 20 warm-ups: ack and reply times.

    `key` makes the trigger ids this call's own: a repeated one is a retry, which the inbox
    acks without answering."""
    signed = Requests(herald.slack_url)
    acks: list[float] = []
    replies: list[float] = []
    async with aiohttp.ClientSession() as session:
        for n in range(20 + requests):
            body, headers, _ = signed.next(key)
            seen = herald.replies()
            sent = time.perf_counter()
            async with session.post(herald.url + "/slack/events", data=body, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"/deploy status: HTTP {r.status}")
                acked = time.perf_counter()
            while herald.replies() <= seen:
                if time.perf_counter() - sent > 30:
                    raise RuntimeError("no status reply within 30 s")
                await asyncio.sleep(0.001)
            if n >= 20:
                acks.append(acked - sent)
                replies.append(time.perf_counter() - sent)
    return {"ack_ms": summary_ms(acks), "reply_ms": summary_ms(replies)}


async def ingest_rate(herald: Herald, releases: int, tag: str) -> dict[str, Any]:
    """`releases` x 5 lifecycle POSTs from CLIENTS clients: accepted events per second."""
    todo = iter(range(releases))
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        for index in todo:
            for step in release_steps(tag, index):
                await herald.post(step.path, step.body)
                accepted += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return {"events": accepted, "seconds": elapsed, "events_per_s": accepted / elapsed}


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def measure(
    name: str, path: Path, *, retention: bool, run: int, args: argparse.Namespace
) -> Any:
    async with herald(path, retention=retention) as running:
        status = await status_latency(running, args.requests, key=f"retention-{run}")
        ingest = await ingest_rate(running, args.releases, f"{path.parent.name}-{run}")
    return {"database": name, "bytes": size(path), "status": status, "ingest": ingest}


async def prune_a_day(path: Path, end: datetime) -> dict[str, Any]:
    """The next day's prune of the retained year, as the hourly job would do it in 24 runs."""
    database = Database(create_engine(f"sqlite:///{path}"))
    try:
        started = time.perf_counter()
        pruned = await prune(
            database=database, policy=RetentionPolicy(), now=end + timedelta(days=1)
        )
        seconds = time.perf_counter() - started
    finally:
        await database.close()
    return {"inbox": pruned.inbox, "outbox": pruned.outbox, "seconds": seconds}


def print_tables(runs: list[list[dict[str, Any]]], counts: Counts, day: dict[str, Any]) -> None:
    rows = [
        _row(number, r, floor=results[0]) for number, results in enumerate(runs, 1) for r in results
    ]
    print("A year of 500 services on SQLite: size, /deploy status (ms), ingest (events/s)")
    print(
        table(
            (
                "run",
                "database",
                "MiB",
                "ack p50",
                "ack p99",
                "reply p50",
                "reply p99",
                "events/s",
                "ingest ×",
                "reply ×",
            ),
            rows,
        )
    )
    print(
        table(
            ("table", "a year", "kept"),
            [(t, n, counts.kept.get(t, 0)) for t, n in counts.written.items()],
        )
    )
    print(
        f"one day's prune: {day['inbox']} inbox + {day['outbox']} outbox rows "
        f"in {day['seconds']:.2f} s"
    )


def _row(number: int, r: dict[str, Any], *, floor: dict[str, Any]) -> tuple[object, ...]:
    """One database's figures in one run, with ratios to that run's empty database."""
    ack, reply, ingest = r["status"]["ack_ms"], r["status"]["reply_ms"], r["ingest"]
    return (
        number,
        r["database"],
        f"{r['bytes'] / 2**20:.0f}",
        ack["p50"],
        ack["p99"],
        reply["p50"],
        reply["p99"],
        ingest["events_per_s"],
        f"{ingest['events_per_s'] / floor['ingest']['events_per_s']:.2f}",
        f"{reply['p50'] / floor['status']['reply_ms']['p50']:.2f}",
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    end = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="herald-bench-retention-") as tmp:
        paths = {name: Path(tmp) / name / "herald.db" for name in ("empty", "year", "year-kept")}
        for path in paths.values():
            path.parent.mkdir()
            await asyncio.to_thread(upgrade, f"sqlite:///{path}")
        began = time.perf_counter()
        counts = await asyncio.to_thread(
            write_year, paths["year"], paths["year-kept"], end=end, scale=args.scale
        )
        load_s = time.perf_counter() - began
        runs = [  # the floor measured in each run, beside the two years
            [
                await measure("empty", paths["empty"], retention=True, run=n, args=args),
                await measure(
                    "year, no retention", paths["year"], retention=False, run=n, args=args
                ),
                await measure(
                    "year, retention", paths["year-kept"], retention=True, run=n, args=args
                ),
            ]
            for n in range(args.runs)
        ]
        day = await prune_a_day(paths["year-kept"], end)
    print_tables(runs, counts, day)
    data = {
        "benchmark": "retention",
        "load_seconds": load_s,
        "rows": {"a_year": counts.written, "kept": counts.kept},
        "runs": runs,
        "one_day_prune": day,
        "load_1m": os.getloadavg()[0],
    }
    print(f"→ {write_results('retention' + args.tag, data)}")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed /deploy status requests")
    parser.add_argument("--releases", type=int, default=200, help="ingested releases (5 events)")
    parser.add_argument("--runs", type=int, default=3, help="measurements of the 3 databases")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the year's rows")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    from bench.harness import quiet_logging

    quiet_logging()
    await run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
