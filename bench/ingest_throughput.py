"""Accepted events per second, delivery and exactly-once, next to a floor measured in the same run.

Every server runs in its own process (bench/processes.py), FakeSlack in the fakes' process,
the clients in this one, so no server shares its event loop or CPU time with the load:

  herald  Herald as `herald serve` builds it (bench/ingest_servers.py) on a fresh SQLite
          file, or with `--database postgres` `--replicas` (2) processes on one fresh
          PostgreSQL database (a throwaway server started as the tests start theirs, or
          `--postgres-url`, a server this may CREATE DATABASE on).
  floor   as many bare aiohttp processes taking the same POSTs with the bearer token check,
          the JSON parse and one INSERT + commit per request in the same kind of database.

Per run, for each client count (`--clients 1,32`), the floor and then Herald take the same
workload (bench/ingest_workload.py): `--events` / 5 releases spread over `--services`
services, each release's five steps posted in order to one replica (release i to replica
i mod N). After the offer the Herald cell waits until every expected message is at FakeSlack
(drained, measured from the first POST) and checks exactly-once per (channel, root or
thread, release, event or note): lost = expected - distinct arrived, duplicated = arrivals
beyond one per key. Exit status 1 if any is lost, duplicated, unexpected or refused.

Reported per cell and run: accepted events/s and the ratio to the floor's, drain time, delivered
msgs/s, lost, duplicated, accepted → posted p99 of urgent messages (failed, rolled back)
and of the rest, server CPU s per wall second (all of the cell's server processes), RSS peak.

Many channels: every service has its own feed and ops channel in the catalog (`channels:
{feed, ops}`, ids C0SVC0001…) unless `--one-channel`, and FakeSlack holds each channel to
`--slack-limit` chat.postMessage per second (Slack's ~1, bursts of 3; 0 switches it off),
answering 429 with Retry-After beyond it as Slack does.

Usage: python bench/ingest_throughput.py [--events 1000] [--clients 1,32] [--runs 3]
         [--database sqlite|postgres] [--replicas N] [--postgres-url URL] [--services 50]
         [--one-channel] [--slack-limit PER_S] [--profile DIR] [--tag NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import EVENTS_PER_RELEASE, quiet_logging, sampled, summarize_samples
from bench.ingest_databases import Databases, databases
from bench.ingest_report import add_ratios, failures, print_table, write
from bench.ingest_servers import start_ingest_server
from bench.ingest_workload import (
    Arrivals,
    Offer,
    Workload,
    delivery_ms,
    exactly_once,
    expected_posts,
    offer,
)
from bench.processes import PostKey, Server, rss_sampled, server_process, tree_cpu_s

DRAIN_TIMEOUT = 120.0
LATE = 0.5  # seconds to wait after the drain for late duplicates


@contextlib.asynccontextmanager
async def servers(role: str, count: int, config: dict[str, Any]) -> AsyncIterator[list[Server]]:
    """`count` processes of `role`, started one after another (the first migrates)."""
    async with contextlib.AsyncExitStack() as stack:
        started = []
        for n in range(count):
            workers = role == "herald" and bool(config.get("workers"))  # it starts processes
            process = server_process(
                f"{role}-{n}", config, start=start_ingest_server, daemon=not workers
            )
            started.append(await stack.enter_async_context(process))
        yield started


async def drain(fakes: Server, expected: set[PostKey], arrived: Arrivals) -> bool:
    """Poll FakeSlack until every expected message is in; False on timeout."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while not expected <= arrived.counts.keys():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
        arrived.add(await fakes.call("stats"))
    return True


@contextlib.asynccontextmanager
async def spied(procs: list[Server], folder: Path | None, name: str) -> AsyncIterator[list[Path]]:
    """py-spy on each server process while the block runs (with a folder)."""
    files: list[Path] = []
    async with contextlib.AsyncExitStack() as stack:
        for n, server in enumerate(procs if folder else []):
            assert folder is not None
            files.append(folder / f"{name}-{n}.txt")
            await stack.enter_async_context(sampled(server.process.pid or 0, files[-1]))
        yield files


@dataclass
class Setup:
    """What every cell of the benchmark shares."""

    args: argparse.Namespace
    workload: Workload
    catalog: Path
    databases: Databases
    fakes: Server


@dataclass
class Measured:
    offered: Offer
    expected: set[PostKey]
    arrived: Arrivals
    timed_out: bool
    wall_s: float
    cpu_s: float
    db_cpu_s: float | None  # PostgreSQL's own processes, where it was started here
    rss_peak_kb: int
    samples: list[dict[str, Any]]


async def cell(setup: Setup, role: str, clients: int, run: int) -> dict[str, Any]:
    """One server kind's processes on a fresh database, taking the workload."""
    name = f"{role}-c{clients}-run{run}"
    config = {**setup.fakes.info, "catalog": str(setup.catalog), "workers": setup.args.workers}
    config["database_url"] = setup.databases.fresh(name)
    # the floor has as many processes as Herald (one on SQLite)
    async with servers(role, setup.args.replicas, config) as procs:
        m = await measure(setup, procs, role=role, clients=clients, run=run)
    row: dict[str, Any] = {
        "run": run,
        "server": role,
        "database": setup.databases.kind,
        "processes": len(procs),
        "clients": clients,
        "events": m.offered.accepted,
        "refused": dict(m.offered.refused),
        "ingest_s": m.offered.seconds,
        "events_per_s": m.offered.accepted / m.offered.seconds,
        "cpu_per_s": m.cpu_s / m.wall_s,
        "db_cpu_per_s": None if m.db_cpu_s is None else m.db_cpu_s / m.wall_s,
        "rss_peak_mb": m.rss_peak_kb / 1024,
        "load_1min": round(os.getloadavg()[0], 2),
    }
    if role == "herald":
        check = exactly_once(m.expected, m.arrived)
        row |= {**check, "drain_s": m.wall_s, "drain_timed_out": m.timed_out}
        row["messages_per_s"] = check["arrived"] / m.wall_s
        ops = setup.workload.ops_channels()
        row["delivery_ms"] = delivery_ms(m.offered, m.arrived, ops=ops)
    if m.samples:
        row["samples"] = m.samples
    return row


async def measure(
    setup: Setup, procs: list[Server], *, role: str, clients: int, run: int
) -> Measured:
    """The offer and, for Herald, the drain, with the servers' CPU, RSS and samples."""
    await setup.fakes.call("stats")  # what came before this cell is not counted
    before = sum([(await s.call("stats"))["cpu_s"] for s in procs])
    db_pid = setup.databases.server_pid
    db_before = tree_cpu_s(db_pid) if db_pid else 0.0
    arrived, urls = Arrivals(), [s.info["url"] for s in procs]
    spy = setup.args.profile if role == "herald" else None
    pids = [s.process.pid or 0 for s in procs]
    name = f"{role}-c{clients}-run{run}"
    async with rss_sampled(pids) as rss, spied(procs, spy, name) as files:
        started = time.monotonic()
        offered = await offer(urls, setup.workload, clients=clients, run=f"r{run}")
        expected = expected_posts(setup.workload, offered.order) if role == "herald" else set()
        timed_out = not await drain(setup.fakes, expected, arrived)
        wall = time.monotonic() - started
        db_cpu = tree_cpu_s(db_pid) - db_before if db_pid else None
    await asyncio.sleep(LATE if role == "herald" else 0)
    arrived.add(await setup.fakes.call("stats"))
    cpu = sum([(await s.call("stats"))["cpu_s"] for s in procs]) - before
    samples = (
        [summarize_samples(f, root=p) for f, p in zip(files, pids, strict=True)] if files else []
    )
    return Measured(offered, expected, arrived, timed_out, wall, cpu, db_cpu, rss.total_kb, samples)


async def measure_runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    workload = Workload(
        releases=max(1, args.events // EVENTS_PER_RELEASE),
        services=args.services,
        channels_per_service=not args.one_channel,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="herald-bench-ingest-") as tmp:
        catalog = workload.write_catalog(Path(tmp) / "catalog.yaml")
        check_catalog(catalog)
        fakes_config = {
            "channels": workload.all_channels(),
            "count_posts": True,
            "slack_limit": args.slack_limit or None,
        }
        async with (
            databases(args.database, args.postgres_url, Path(tmp)) as dbs,
            server_process("fakes", fakes_config) as fakes,
        ):
            setup = Setup(args, workload, catalog, dbs, fakes)
            for run in range(1, args.runs + 1):
                for clients in args.clients:
                    for role in ("floor", "herald"):
                        rows.append(row := await cell(setup, role, clients, run))
                        print(f"run {run} c={clients} {role}: {row['events_per_s']:.0f}/s")
    return add_ratios(rows)


def check_catalog(path: Path) -> None:
    """Herald's own reading of the catalog, before any server starts."""
    from bot.catalog import CatalogError, load_catalog

    try:
        load_catalog(path)
    except CatalogError as error:
        problems = "; ".join(f"{p.path}: {p.message}" for p in error.problems[:3])
        raise SystemExit(f"the benchmark's catalog is not one Herald takes: {problems}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events per cell (5 a release)")
    parser.add_argument(
        "--clients",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 32],
        help="comma-separated client counts (default 1,32)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--replicas", type=int, help="Herald processes (postgres: default 2)")
    parser.add_argument("--postgres-url", help="a server to CREATE DATABASE on (else started)")
    parser.add_argument("--services", type=int, default=50, help="services the releases span")
    parser.add_argument(
        "--one-channel",
        action="store_true",
        help="every message in the global feed and ops channels, not one per service",
    )
    parser.add_argument(
        "--slack-limit",
        type=float,
        default=1.0,
        help="FakeSlack's chat.postMessage per second per channel (0: none)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="HERALD_WORKERS of each Herald process"
    )
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy Herald into DIR")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    args = parser.parse_args(argv)
    if args.replicas is None:
        args.replicas = 2 if args.database == "postgres" else 1
    if args.database == "sqlite" and args.replicas != 1:
        parser.error("--replicas: SQLite takes one Herald process (use --database postgres)")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


async def run(
    events: int, clients: list[int], *, tag: str = "", argv: tuple[str, ...] = ()
) -> dict[str, Any]:
    """For bench/run_all.py: the defaults, with these sizes; {"ok": ..., "rows": [...]}."""
    args = parse_args([*argv, "--events", str(events), "--clients", ",".join(map(str, clients))])
    args.tag = tag.removeprefix("-")
    return await report(args)


async def report(args: argparse.Namespace) -> dict[str, Any]:
    quiet_logging()
    rows = await measure_runs(args)
    print_table(rows)
    print(f"→ {write(rows, args)}")
    if problems := failures(rows):
        print("FAIL: " + "; ".join(problems), file=sys.stderr)
    return {"ok": not failures(rows), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    return 0 if asyncio.run(report(parse_args(argv)))["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
