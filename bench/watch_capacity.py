"""The cost of the early watch, and how many releases one Herald can watch at its cadence.

Herald runs in-process (`build_app`, a fresh SQLite file, the outbox worker and the watch
tick running on the real clock, `watch_tick_seconds=1`). FakeSlack shares its event loop (its
CPU is charged to Herald, as in the other benches); the Prometheus stand-in runs in a child
process answering in `--latency` (default 30 ms), so its CPU is not. N releases of N distinct
services are deployed now (manifest, `release.started`, `release.deployed` through the HTTP
API), each service with `watch: {interval: 30s}` (or 15s) in the catalogue, and every watch
runs for real. After the setup and one interval of warm-up, `--seconds` of wall time are
measured:

- evaluations (each `WatchRunner.run` that judged, timed in this process), Prometheus queries
  answered and Slack calls made (chat.update of the watch message, coalesced by the outbox),
  each per evaluation; Herald's process CPU per evaluation and as a share of one core;
- cadence: per watch, the gaps between the starts of its evaluations (plus the open gap at
  the end when it is longer than the interval); p50 / p95 / max against the interval;
- a floor in the same run: the queries Herald asked, replayed by a bare aiohttp client against
  the same stand-in at the peak concurrency Herald reached, and its CPU per query.

A ladder of N gives the capacity: the largest N whose p95 gap stays within interval + 5 s.
The headline N runs `--runs` times.

Usage: python bench/watch_capacity.py [--quick] [--ladder 100,200,400,600] [--interval 30]
       [--also-15s 200] [--headline 400] [--runs 3] [--seconds 60] [--latency 0.03]
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
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.checkups import ChildPrometheus, manifest, quiet, rss_mib, service_name
from bench.harness import CallLog, maybe_profile, percentile, table, write_results
from bot.app import build_app
from bot.catalog import Catalog, Service
from bot.catalog import Watch as WatchSpec
from bot.deps import DEPS
from bot.domain.watch.hysteresis import WatchUpdate
from bot.domain.watch.run import WatchRunner
from bot.domain.watch.watch import Watch
from bot.integrations.prometheus_client import PrometheusClient, Sample
from bot.settings import Settings
from bot.store import outbox
from standins.slack import FakeSlack, SlackCall

FEED, OPS = "CFEED", "COPS"
TOKEN = "bench-watch-token"
SLACK_SLOW_S = 5.0  # p95 gap allowed above the interval
FLOOR_SAMPLE = 20_000  # queries replayed by the floor client at most
SETUP_DRAIN_S = 30.0  # past it, the outbox backlog is part of what is measured


@dataclass
class Observed:
    """Each judged evaluation's start (monotonic) by release, the queries Herald asked,
    and the Slack calls during the measured phase."""

    evaluations: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    queries: list[tuple[str, str]] = field(default_factory=list)  # (expr, unix time)
    measuring: bool = False
    slack: Counter[str] = field(default_factory=Counter)
    failed_slack: int = 0

    def on_call(self, call: SlackCall) -> None:
        if not self.measuring:
            return
        self.slack[call.method] += 1
        self.failed_slack += 0 if call.ok else 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Time WatchRunner.run and note PrometheusClient.query's arguments (this process)."""
        run, query = WatchRunner.run, PrometheusClient.query
        seen = self

        async def timed_run(self: WatchRunner, watch: Watch) -> WatchUpdate | None:
            began = time.monotonic()
            update = await run(self, watch)
            if update is not None:
                seen.evaluations[watch.release_id].append(began)
            return update

        async def noted_query(self: PrometheusClient, expr: str, *, at: datetime) -> list[Sample]:
            if seen.measuring and len(seen.queries) < FLOOR_SAMPLE:
                seen.queries.append((expr, f"{at.timestamp():.3f}"))
            return await query(self, expr, at=at)

        WatchRunner.run = timed_run  # type: ignore[method-assign]
        PrometheusClient.query = noted_query  # type: ignore[method-assign]
        try:
            yield
        finally:
            WatchRunner.run = run  # type: ignore[method-assign]
            PrometheusClient.query = query  # type: ignore[method-assign]


@dataclass
class Stack:
    slack: FakeSlack
    prometheus: ChildPrometheus
    runner: web.AppRunner
    session: aiohttp.ClientSession
    url: str

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.post(self.url + path, json=body) as response:
            if response.status != 201:
                text = (await response.text())[:300]
                raise RuntimeError(f"POST {path}: HTTP {response.status} {text}")

    async def deploy(self, run: str, index: int) -> None:
        """Manifest, started 10 minutes ago and deployed now (the watch's origin)."""
        body = manifest(run, index)
        await self.post("/api/v1/releases", body)
        path = f"/api/v1/releases/{body['id']}/events"
        now = datetime.now(UTC)
        await self.post(path, {"event": "release.started", "at": str(now - timedelta(minutes=10))})
        await self.post(path, {"event": "release.deployed", "at": now.isoformat()})

    async def open_rows(self) -> int:
        return await outbox.count_open(database=self.runner.app[DEPS].database)


def catalog(releases: int, interval: int) -> Catalog:
    spec = WatchSpec(interval="30s" if interval == 30 else "15s")
    return Catalog(services={service_name(i): Service(watch=spec) for i in range(releases)})


@contextlib.asynccontextmanager
async def herald(releases: int, *, interval: int, latency: float) -> AsyncIterator[Stack]:
    prometheus = ChildPrometheus(latency, [])
    await prometheus.start()
    try:
        with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
            async with FakeSlack(channels=(FEED, OPS)) as slack:
                settings = Settings(
                    slack_bot_token=slack.token,
                    slack_signing_secret="bench-signing-secret",
                    slack_api_url=slack.api_url,
                    feed_channel=FEED,
                    ops_channel=OPS,
                    database_url=f"sqlite:///{Path(tmp) / 'herald.db'}",
                    ingest_token=TOKEN,
                    prometheus_url=prometheus.url,
                    watch_tick_seconds=1.0,
                )
                app = build_app(settings, catalog=catalog(releases, interval))
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                try:
                    await web.TCPSite(runner, "127.0.0.1", 0).start()
                    host, port = runner.addresses[0][:2]
                    headers = {"Authorization": f"Bearer {TOKEN}"}
                    async with aiohttp.ClientSession(headers=headers) as session:
                        yield Stack(slack, prometheus, runner, session, f"http://{host}:{port}")
                finally:
                    await runner.cleanup()
    finally:
        await prometheus.stop()


async def setup(stack: Stack, run: str, releases: int, *, clients: int = 8) -> float:
    started = time.monotonic()
    indexes = iter(range(releases))

    async def client() -> None:
        for index in indexes:
            await stack.deploy(run, index)

    await asyncio.gather(*(client() for _ in range(clients)))
    for _ in range(int(SETUP_DRAIN_S / 0.5)):  # the setup posts (watch edits keep some open)
        if await stack.open_rows() <= releases:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def gaps(starts: list[float], *, since: float, until: float, interval: float) -> list[float]:
    """The gaps between consecutive evaluations that end in [since, until], and the open gap
    at `until` when it is already longer than the interval."""
    found = [b - a for a, b in itertools.pairwise(starts) if since <= b <= until]
    last = max((s for s in starts if s <= until), default=None)
    open_gap = until - (last if last is not None else since)
    return [*found, open_gap] if open_gap > interval else found


async def floor(stack: Stack, queries: list[tuple[str, str]], concurrency: int) -> dict[str, Any]:
    """The same queries from a bare aiohttp client at the same concurrency: CPU per query."""
    await stack.prometheus.reset()
    slots = asyncio.Semaphore(max(1, concurrency))
    url = stack.prometheus.url + "/api/v1/query"
    async with aiohttp.ClientSession() as session:

        async def ask(expr: str, at: str) -> None:
            async with slots, session.post(url, data={"query": expr, "time": at}) as response:
                await response.json()

        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.gather(*(ask(e, t) for e, t in queries))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    served = (await stack.prometheus.stats())["queries_served"]
    return {
        "floor_queries": len(queries),
        "floor_served": served,
        "floor_concurrency": concurrency,
        "floor_cpu_s": cpu,
        "floor_wall_s": wall,
        "floor_cpu_ms_per_query": 1000 * cpu / max(1, len(queries)),
    }


async def measure(
    releases: int, *, interval: int, seconds: float, latency: float, profile: str | None = None
) -> dict[str, Any]:
    quiet()
    run_id = f"{int(time.time()) % 100_000:05d}"
    load_at_start = round(os.getloadavg()[0], 2)
    seen = Observed()
    async with herald(releases, interval=interval, latency=latency) as stack:
        stack.slack.calls = CallLog(seen.on_call)
        with seen.installed():
            setup_s = await setup(stack, run_id, releases)
            await asyncio.sleep(interval)  # warm-up: every watch has been judged once
            await stack.prometheus.reset()
            seen.measuring = True
            since, cpu_before = time.monotonic(), time.process_time()
            with maybe_profile(profile):
                await asyncio.sleep(seconds)
            until, cpu = time.monotonic(), time.process_time() - cpu_before
            seen.measuring = False
            prom = await stack.prometheus.stats()
            rss = rss_mib()
        floor_data = await floor(stack, seen.queries, int(prom["peak_in_flight"]))
    per_watch = {
        r: [s for s in starts if since <= s < until] for r, starts in seen.evaluations.items()
    }
    evaluations = sum(len(v) for v in per_watch.values())
    all_gaps = sorted(
        g
        for starts in seen.evaluations.values()
        for g in gaps(starts, since=since, until=until, interval=interval)
    )
    all_gaps += [seconds] * (releases - len(seen.evaluations))  # never judged at all
    all_gaps.sort()
    wall = until - since
    queries_per_eval = prom["queries_served"] / max(1, evaluations)
    cpu_per_eval = cpu / max(1, evaluations)
    floor_per_eval = floor_data["floor_cpu_ms_per_query"] / 1000 * queries_per_eval
    p95 = percentile(all_gaps, 95)
    return {
        "releases": releases,
        "interval_s": interval,
        "measured_s": wall,
        "setup_s": setup_s,
        "load_average_1m_at_start": load_at_start,
        "evaluations": evaluations,
        "evaluations_expected": releases * wall / interval,
        "evaluations_per_s": evaluations / wall,
        "watches_judged": sum(1 for v in per_watch.values() if v),
        "prometheus_queries": prom["queries_served"],
        "prometheus_bad_queries": prom["bad_queries"],
        "prometheus_peak_in_flight": prom["peak_in_flight"],
        "queries_per_evaluation": queries_per_eval,
        "process_cpu_s": cpu,
        "cpu_utilisation": cpu / wall,
        "cpu_ms_per_evaluation": 1000 * cpu_per_eval,
        "slack_calls": dict(seen.slack),
        "slack_calls_per_evaluation": sum(seen.slack.values()) / max(1, evaluations),
        "failed_slack_calls": seen.failed_slack,
        "gap_p50_s": percentile(all_gaps, 50),
        "gap_p95_s": p95,
        "gap_max_s": all_gaps[-1] if all_gaps else float("nan"),
        "gaps": len(all_gaps),
        "keeps_cadence": p95 <= interval + SLACK_SLOW_S,
        "rss_mib": rss,
        **floor_data,
        "floor_cpu_ms_per_evaluation": 1000 * floor_per_eval,
        "cpu_ratio_to_floor": cpu_per_eval / floor_per_eval if floor_per_eval else None,
    }


HEADERS = (
    "N",
    "interval",
    "evals",
    "exp.",
    "q/eval",
    "slack/eval",
    "CPU ms/eval",
    "floor ms/eval",
    "×floor",
    "CPU %",
    "gap p50",
    "p95",
    "max",
    "ok",
)


def row(r: dict[str, Any]) -> tuple[object, ...]:
    ratio = r["cpu_ratio_to_floor"]
    return (
        r["releases"],
        f"{r['interval_s']}s",
        r["evaluations"],
        f"{r['evaluations_expected']:.0f}",
        f"{r['queries_per_evaluation']:.1f}",
        f"{r['slack_calls_per_evaluation']:.2f}",
        f"{r['cpu_ms_per_evaluation']:.1f}",
        f"{r['floor_cpu_ms_per_evaluation']:.1f}",
        "—" if ratio is None else f"{ratio:.1f}",
        f"{r['cpu_utilisation']:.0%}",
        f"{r['gap_p50_s']:.1f}",
        f"{r['gap_p95_s']:.1f}",
        f"{r['gap_max_s']:.1f}",
        "yes" if r["keeps_cadence"] else "NO",
    )


def capacity(results: list[dict[str, Any]], interval: int) -> int | None:
    """The largest N of the ladder that kept the cadence (none of a smaller one failing)."""
    best = None
    for r in sorted(_at(results, interval), key=lambda r: r["releases"]):
        if not r["keeps_cadence"]:
            break
        best = r["releases"]
    return best


def _at(results: list[dict[str, Any]], interval: int) -> list[dict[str, Any]]:
    return [r for r in results if r["interval_s"] == interval]


def marginal_ms(results: list[dict[str, Any]], interval: int) -> float | None:
    """CPU ms per evaluation beyond the idle loop: the slope of CPU share over evaluations/s
    between the smallest and the largest N (both keeping the cadence)."""
    kept = sorted((r for r in _at(results, interval) if r["keeps_cadence"]), key=_rate)
    if len(kept) < 2 or _rate(kept[-1]) == _rate(kept[0]):
        return None
    share = float(kept[-1]["cpu_utilisation"]) - float(kept[0]["cpu_utilisation"])
    return 1000 * share / (_rate(kept[-1]) - _rate(kept[0]))


def _rate(r: dict[str, Any]) -> float:
    return float(r["evaluations_per_s"])


async def run(
    ladder: list[int],
    *,
    ladder_15s: list[int],
    headline: int,
    runs: int,
    seconds: float,
    latency: float,
    tag: str = "",
) -> dict[str, Any]:
    plan = [(n, 30) for n in ladder] + [(n, 15) for n in ladder_15s]
    plan += [(headline, 30)] * max(0, runs - (1 if headline in ladder else 0))
    results = []
    for n, interval in plan:
        print(f"… {n} watches every {interval}s for {seconds:.0f}s", flush=True)
        results.append(await measure(n, interval=interval, seconds=seconds, latency=latency))
        print(table(HEADERS, [row(results[-1])]), flush=True)
        print(f"  setup {results[-1]['setup_s']:.0f} s", flush=True)
    print(
        f"\nWatch capacity: Prometheus stand-in in a child process answering in "
        f"{latency * 1000:.0f} ms; {seconds:.0f} s measured per run after one interval of "
        "warm-up; SQLite; FakeSlack in Herald's process"
    )
    print(table(HEADERS, [row(r) for r in results]))
    limits = {f"{i}s": capacity(results, i) for i in (30, 15)}
    slopes = {f"{i}s": marginal_ms(results, i) for i in (30, 15)}
    print(f"largest N keeping p95 gap ≤ interval + {SLACK_SLOW_S:.0f} s: {limits}")
    print(f"marginal CPU ms per evaluation (ladder slope): {slopes}")
    data = {
        "benchmark": "watch_capacity",
        "prometheus_latency_s": latency,
        "measured_s": seconds,
        "headline_releases": headline,
        "capacity": limits,
        "marginal_cpu_ms_per_evaluation": slopes,
        "results": results,
    }
    print(f"→ {write_results('watch_capacity' + tag, data)}")
    return data


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", type=ints, default=[100, 200, 400, 600], help="N at 30s")
    parser.add_argument("--also-15s", type=ints, default=[200], help="N at 15s")
    parser.add_argument("--headline", type=int, default=400, help="N run --runs times")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured wall time a run")
    parser.add_argument("--latency", type=float, default=0.03, help="Prometheus latency, s")
    parser.add_argument(
        "--profile", metavar="FILE", help="one run of --headline N at 30s, cProfiled (no JSON)"
    )
    parser.add_argument("--quick", action="store_true", help="20 watches, 40 s, one run each")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        found = await measure(
            args.headline,
            interval=30,
            seconds=args.seconds,
            latency=args.latency,
            profile=args.profile,
        )
        print(table(HEADERS, [row(found)]))
        return 0
    if args.quick:
        quick = {"headline": 20, "runs": 1, "seconds": 40.0, "latency": args.latency}
        await run([20], ladder_15s=[20], tag="-quick", **quick)
        return 0
    await run(
        args.ladder,
        ladder_15s=args.also_15s,
        headline=args.headline,
        runs=args.runs,
        seconds=args.seconds,
        latency=args.latency,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
