"""N releases whose +15m checkups fall due in the same minute, against a Prometheus stand-in
answering in 50 ms: time until the last verdict is posted, and peak memory.

Herald runs in-process: `build_app` with a fresh SQLite file (or `--database-url`), the
outbox workers and the checkup clock running, and `checkup_interval_seconds=0.2`. FakeSlack,
FakePagerDuty and FakePrometheus (`latency_seconds=0.05`) run in the same event loop;
`--prometheus-process` moves FakePrometheus to a child process, so its CPU is not charged to
Herald. A fake clock drives Herald. N releases of N distinct services are deployed at the
same fake time R: manifest, `release.started` and `release.deployed` through the HTTP API.
The services must be distinct because a newer deploy of the same service and env supersedes
older checkups. Every `--spike-every`-th service (10 %) has an 8 % 5xx spike after R, so
its checkup is red and pages. Once the setup messages are delivered, the clock jumps to
R+15m30s and all N `+15m` checkups fall due at once.

Measured from that jump:
- the arrival at FakeSlack of the first and the N-th feed report
  (`:<color>: Checkup +15m of …`), the last ops report, the last page and the outbox drained;
- Prometheus queries served and the peak number in flight;
- verdict colors, and CPU time (process, and the event loop's thread);
- peak RSS (`ru_maxrss`, the whole run) and RSS sampled during the phase.

`--tracemalloc` adds the phase's tracemalloc peak, but it makes the phase ~3 times slower.
`--diagnose` times `Judge.judge` and `CheckupRunner._record` by wrapping them in this process.

Exactly-once check (exit status 1 if it fails): one feed report per release, one ops report
and one PagerDuty trigger per red release, the colors the profiles imply, no failed Slack
posts and no open outbox rows.

Usage: python bench/checkups.py [--releases 1000 | --quick] [--database-url URL]
       [--prometheus-process] [--concurrency 50] [--latency 0.05] [--tracemalloc]
       [--diagnose] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.harness import CallLog, maybe_profile, quiet_logging, table, write_results
from bot.app import build_app
from bot.catalog import Catalog
from bot.deps import DEPS
from bot.domain.checkup.checkup import Checkup, Judge
from bot.domain.checkup.run import CheckupRunner
from bot.domain.checkup.verdict import Verdict
from bot.settings import Settings
from bot.store import outbox
from bot.store.database import Database
from standins.pagerduty import FakePagerDuty
from standins.prometheus import FakePrometheus
from standins.slack import FakeSlack, SlackCall

FEED, OPS = "CFEED", "COPS"
TOKEN = "bench-checkups-token"
ROUTING_KEY = "B3NCHR0UT1NGKEY0123456789abcdefA"  # 32 characters
R = datetime(2025, 10, 2, 20, 0, tzinfo=UTC)  # release end, on the 15 s grid
SETUP_AT = R + timedelta(minutes=1)  # the clock while releases are created: nothing due
DUE_AT = R + timedelta(minutes=15, seconds=30)  # every +15m checkup due, none late
REPORT = re.compile(r"^:(\w+): Checkup \+15m of (\S+): \*([A-Z]+)\*")
SETUP_TIMEOUT = 300.0
PHASE_TIMEOUT = 600.0
INTERVAL = 0.2  # checkup_interval_seconds


class FakeClock:
    """Herald's clock, moved by the benchmark (like tests/clock.py)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def service_name(index: int) -> str:
    return f"svc-{index:05d}"


def release_id(run: str, index: int) -> str:
    return f"chk-{run}-{index:05d}"


def manifest(run: str, index: int) -> dict[str, Any]:
    service = service_name(index)
    return {
        "id": release_id(run, index),
        "version": f"1.{index}.0",
        "env": "prod",
        "service": service,
        "git": {"repo": f"github.com/acme/{service}", "commit": f"{index:07x}", "tag": "v1"},
        "changes": [{"type": "fix", "scope": "api", "summary": "a fix", "issues": ["P-1"]}],
        "rollback": {"to_version": "1.0.0", "strategy": "Argo Rollout abort"},
        "owner": "team-bench",
        "created_at": (R - timedelta(hours=2)).isoformat(),
    }


@dataclass
class Observed:
    """What reached the fakes during the checkup phase, as it arrived."""

    started: float = 0.0
    feed: dict[str, tuple[str, float]] = field(default_factory=dict)  # release: (color, at)
    feed_posts: Counter[str] = field(default_factory=Counter)
    ops_posts: Counter[str] = field(default_factory=Counter)
    last_ops_at: float = 0.0
    failed_posts: int = 0
    timeline: list[dict[str, float]] = field(default_factory=list)

    def on_call(self, call: SlackCall) -> None:
        if call.method != "chat.postMessage" or not self.started:
            return
        if not call.ok:
            self.failed_posts += 1
            return
        found = REPORT.match(str(call.body.get("text") or ""))
        if found is None:
            return
        release, color = found.group(2), found.group(3).lower()
        if call.body.get("channel") == FEED:
            self.feed_posts[release] += 1
            self.feed.setdefault(release, (color, call.at))
        else:
            self.ops_posts[release] += 1
            self.last_ops_at = max(self.last_ops_at, call.at)


@dataclass
class Diagnosis:
    """With --diagnose: per checkup, when it started, judged and recorded (monotonic)."""

    started: list[float] = field(default_factory=list)
    judged: list[float] = field(default_factory=list)
    judge_s: list[float] = field(default_factory=list)
    record_s: list[float] = field(default_factory=list)
    running: int = 0
    peak_running: int = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap Judge.judge and CheckupRunner._record (the benchmark's process only)."""
        judge, record = Judge.judge, CheckupRunner._record
        diagnosis = self

        async def timed_judge(self: Judge, checkup: Checkup) -> Verdict:
            began = time.monotonic()
            diagnosis.started.append(began)
            diagnosis.running += 1
            diagnosis.peak_running = max(diagnosis.peak_running, diagnosis.running)
            try:
                return await judge(self, checkup)
            finally:
                diagnosis.running -= 1
                diagnosis.judged.append(time.monotonic())
                diagnosis.judge_s.append(time.monotonic() - began)

        async def timed_record(self: CheckupRunner, *args: Any, **kwargs: Any) -> Any:
            began = time.monotonic()
            try:
                return await record(self, *args, **kwargs)
            finally:
                diagnosis.record_s.append(time.monotonic() - began)

        Judge.judge = timed_judge  # type: ignore[method-assign]
        CheckupRunner._record = timed_record  # type: ignore[method-assign]
        try:
            yield
        finally:
            Judge.judge = judge  # type: ignore[method-assign]
            CheckupRunner._record = record  # type: ignore[method-assign]


class PrometheusSide:
    """FakePrometheus in this process: its CPU is charged to Herald's event loop."""

    def __init__(self, fake: FakePrometheus) -> None:
        self.fake = fake
        self.url = fake.url

    async def stats(self) -> dict[str, Any]:
        return self.fake.stats()

    async def reset(self) -> None:
        self.fake.reset_counters()


class ChildPrometheus(PrometheusSide):
    """FakePrometheus in a child process, as a real Prometheus would be: its CPU is not."""

    def __init__(self, latency: float, spiked: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve_prometheus, args=(child, latency, spiked, R.timestamp()), daemon=True
        )

    async def start(self) -> None:
        self._process.start()
        self.url = str(await asyncio.to_thread(self._conn.recv))

    async def _ask(self, what: str) -> Any:
        def ask() -> Any:
            self._conn.send(what)
            return self._conn.recv()

        return await asyncio.to_thread(ask)

    async def stats(self) -> dict[str, Any]:
        return dict(await self._ask("stats"))

    async def reset(self) -> None:
        await self._ask("reset")

    async def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            await self._ask("stop")
        await asyncio.to_thread(self._process.join, 5.0)


def serve_prometheus(conn: Connection, latency: float, spiked: list[str], at: float) -> None:
    """The child process: serve until told to stop; answer "stats" and "reset"."""

    async def serve() -> None:
        async with FakePrometheus(latency_seconds=latency) as fake:
            for service in spiked:
                fake.set_profile(service, "spike", release_at=datetime.fromtimestamp(at, UTC))
            stop = asyncio.Event()

            def on_message() -> None:
                while conn.poll():
                    message = conn.recv()
                    if message == "stats":
                        conn.send(fake.stats())
                    elif message == "reset":
                        fake.reset_counters()
                        conn.send(None)
                    else:
                        conn.send(None)
                        stop.set()

            asyncio.get_running_loop().add_reader(conn.fileno(), on_message)
            conn.send(fake.url)
            await stop.wait()

    asyncio.run(serve())


@dataclass
class Stack:
    slack: FakeSlack
    prometheus: PrometheusSide
    pagerduty: FakePagerDuty
    clock: FakeClock
    runner: web.AppRunner
    session: aiohttp.ClientSession
    url: str

    @property
    def database(self) -> Database:
        return self.runner.app[DEPS].database

    async def post(self, path: str, body: dict[str, Any]) -> None:
        async with self.session.post(self.url + path, json=body) as response:
            if response.status != 201:
                text = (await response.text())[:300]
                raise RuntimeError(f"POST {path}: HTTP {response.status} {text}")

    async def create(self, run: str, index: int) -> None:
        """Manifest, started (R-10m) and deployed (R)."""
        body = manifest(run, index)
        await self.post("/api/v1/releases", body)
        path = f"/api/v1/releases/{body['id']}/events"
        started = (R - timedelta(minutes=10)).isoformat()
        await self.post(path, {"event": "release.started", "at": started})
        await self.post(path, {"event": "release.deployed", "at": R.isoformat()})

    async def drained(self, *, within: float) -> int:
        """Wait until the Slack and page outboxes have no open rows; returns those left."""
        deadline = time.monotonic() + within
        left = await outbox.count_open(database=self.database)
        while left and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            left = await outbox.count_open(database=self.database)
        return left


@contextlib.asynccontextmanager
async def prometheus_side(
    latency: float, spiked: list[str], *, child: bool
) -> AsyncIterator[PrometheusSide]:
    if child:
        side = ChildPrometheus(latency, spiked)
        await side.start()
        try:
            yield side
        finally:
            await side.stop()
        return
    async with FakePrometheus(latency_seconds=latency) as fake:
        for service in spiked:
            fake.set_profile(service, "spike", release_at=R)
        yield PrometheusSide(fake)


@contextlib.asynccontextmanager
async def herald(
    database_url: str | None,
    *,
    concurrency: int,
    latency: float,
    spiked: list[str],
    child: bool,
) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'herald.db'}"
        async with (
            prometheus_side(latency, spiked, child=child) as prometheus,
            FakeSlack(channels=(FEED, OPS)) as slack,
            FakePagerDuty() as pagerduty,
        ):
            clock = FakeClock(SETUP_AT)
            settings = Settings(
                slack_bot_token=slack.token,
                slack_signing_secret="bench-signing-secret",
                slack_api_url=slack.api_url,
                feed_channel=FEED,
                ops_channel=OPS,
                database_url=url,
                ingest_token=TOKEN,
                delivery_poll_seconds=1.0,
                prometheus_url=prometheus.url,
                pagerduty_events_url=pagerduty.url,
                pagerduty_routing_key=ROUTING_KEY,
                checkup_interval_seconds=INTERVAL,
                checkup_concurrency=concurrency,
            )
            app = build_app(settings, catalog=Catalog(), clock=clock)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                host, port = runner.addresses[0][:2]
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with aiohttp.ClientSession(headers=headers) as session:
                    base = f"http://{host}:{port}"
                    yield Stack(slack, prometheus, pagerduty, clock, runner, session, base)
            finally:
                await runner.cleanup()


async def setup(stack: Stack, run: str, releases: int, *, clients: int = 8) -> dict[str, float]:
    """Create every release and wait until its setup messages are at the fake."""
    started = time.monotonic()
    indexes = iter(range(releases))

    async def client() -> None:
        for index in indexes:
            await stack.create(run, index)

    await asyncio.gather(*(client() for _ in range(clients)))
    ingested = time.monotonic() - started
    left = await stack.drained(within=SETUP_TIMEOUT)
    if left:
        raise RuntimeError(f"{left} setup messages still undelivered after {SETUP_TIMEOUT:.0f}s")
    await asyncio.sleep(0.5)  # the worker records its last posts
    return {"ingest_s": ingested, "setup_s": time.monotonic() - started}


async def wait_until(done: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def sample(stack: Stack, seen: Observed, every: float = 0.5) -> None:
    """The timeline: queries answered, reports and pages so far, every `every` seconds."""
    while True:
        stats = await stack.prometheus.stats()
        seen.timeline.append(
            {
                "t": round(time.monotonic() - seen.started, 2),
                "queries": stats["queries_served"],
                "in_flight": stats["in_flight"],
                "feed_reports": len(seen.feed),
                "ops_reports": sum(seen.ops_posts.values()),
                "pages": len(stack.pagerduty.events),
                "rss_mib": round(rss_mib(), 1),
            }
        )
        await asyncio.sleep(every)


def rss_mib() -> float:
    """The current resident set size (Linux /proc), MiB."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024 / (1024 if sys.platform == "darwin" else 1)


async def checkup_phase(
    stack: Stack,
    run: str,
    releases: int,
    spiked: set[int],
    *,
    trace: bool,
    diagnosis: Diagnosis | None,
) -> dict[str, Any]:
    reds = {release_id(run, i) for i in spiked}
    seen = Observed()
    stack.slack.calls = CallLog(seen.on_call)
    await stack.prometheus.reset()
    pages_before = len(stack.pagerduty.events)
    gc.collect()
    rss_before, peak_before = rss_mib(), peak_rss_mib()
    if trace:
        tracemalloc.start()
    cpu_before, loop_before = time.process_time(), time.thread_time()
    with diagnosis.installed() if diagnosis else contextlib.nullcontext():
        seen.started = time.monotonic()
        stack.clock.now = DUE_AT  # every +15m checkup is due at once
        sampler = asyncio.create_task(sample(stack, seen))
        try:
            complete = await wait_until(lambda: len(seen.feed) >= releases, PHASE_TIMEOUT)
            followed = await wait_until(
                lambda: (
                    len(stack.pagerduty.events) - pages_before >= len(reds)
                    and sum(seen.ops_posts.values()) >= len(reds)
                ),
                60.0 if complete else 0.0,
            )
            finished = time.monotonic()
            cpu, loop_cpu = time.process_time() - cpu_before, time.thread_time() - loop_before
            open_rows = await stack.drained(within=30.0)
            drained = time.monotonic()
            await asyncio.sleep(1.0)  # late duplicates would show up here
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
    traced_peak, traced_top = None, None
    if trace:
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
        traced_top = top_allocations(tracemalloc.take_snapshot())
        tracemalloc.stop()
    pages = [e for e in stack.pagerduty.events[pages_before:] if e["event_action"] == "trigger"]
    page_keys = Counter(str(e.get("dedup_key")) for e in pages)
    colors = Counter(color for color, _ in seen.feed.values())
    arrivals = sorted(at for _, at in seen.feed.values())
    wrong = sorted(
        r for r, (color, _) in seen.feed.items() if color != ("red" if r in reds else "green")
    )
    prom = await stack.prometheus.stats()
    since = seen.started

    def after(at: float | None) -> float | None:
        return None if at is None or at < since else at - since

    ok = (
        complete
        and followed
        and len(seen.feed) == releases
        and all(n == 1 for n in seen.feed_posts.values())
        and set(seen.ops_posts) == reds
        and all(n == 1 for n in seen.ops_posts.values())
        and set(page_keys) == {f"herald:rel:{r}" for r in reds}
        and all(n == 1 for n in page_keys.values())
        and not wrong
        and seen.failed_posts == 0
        and open_rows == 0
    )
    page_times = [r.at for r in stack.pagerduty.requests if r.at >= since and r.status == 202]
    result: dict[str, Any] = {
        "releases": releases,
        "red_expected": len(reds),
        "first_report_s": after(arrivals[0] if arrivals else None),
        "last_report_s": after(arrivals[-1]) if complete else None,
        "last_ops_report_s": after(seen.last_ops_at or None),
        "last_page_s": after(max(page_times, default=None)),
        "all_done_s": finished - since,
        "outbox_drained_s": drained - since,
        "open_outbox_rows": open_rows,
        "process_cpu_s": cpu,
        "event_loop_cpu_s": loop_cpu,
        "event_loop_busy": loop_cpu / (finished - since),
        "last_prometheus_answer_s": after(prom["last_answer_at"]),
        "prometheus_queries": prom["queries_served"],
        "prometheus_queries_per_checkup": prom["queries_served"] / max(1, len(seen.feed)),
        "prometheus_peak_in_flight": prom["peak_in_flight"],
        "prometheus_bad_queries": prom["bad_queries"],
        "queries_per_s": prom["queries_served"]
        / max(1e-9, (prom["last_answer_at"] or since) - since),
        "colors": dict(colors),
        "pages_delivered": len(pages),
        "pages_duplicated": sum(n - 1 for n in page_keys.values()),
        "feed_reports": len(seen.feed),
        "feed_duplicates": sum(n - 1 for n in seen.feed_posts.values()),
        "ops_reports": sum(seen.ops_posts.values()),
        "unexpected_colors": wrong[:20],
        "failed_slack_posts": seen.failed_posts,
        "rss_before_mib": rss_before,
        "rss_after_mib": rss_mib(),
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_mib": peak_before,
        "rss_sampled_peak_mib": max((p["rss_mib"] for p in seen.timeline), default=None),
        "tracemalloc_peak_mib": traced_peak,
        "tracemalloc_top_at_end_mib": traced_top,
        "ok": ok,
        "timeline": seen.timeline,
    }
    if diagnosis is not None:
        result["diagnosis"] = summarize(diagnosis, since)
    return result


def top_allocations(snapshot: tracemalloc.Snapshot, n: int = 8) -> dict[str, float]:
    """Live memory at the end of the phase by package (site-packages name, or bot/...)."""
    sizes: Counter[str] = Counter()
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename
        if "site-packages/" in name:
            name = name.split("site-packages/")[1].split("/")[0]
        elif "/bot/" in name:
            name = "bot/" + name.split("/bot/")[1]
        else:
            name = Path(name).name
        sizes[name] += stat.size
    return {name: round(size / 2**20, 2) for name, size in sizes.most_common(n)}


def summarize(d: Diagnosis, since: float) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        if not ordered:
            return {}
        return {
            "mean": sum(ordered) / len(ordered),
            "p50": ordered[len(ordered) // 2],
            "max": ordered[-1],
        }

    return {
        "checkups_judged": len(d.judged),
        "first_judge_started_s": min(d.started, default=since) - since,
        "last_judge_started_s": max(d.started, default=since) - since,
        "last_verdict_s": max(d.judged, default=since) - since,
        "peak_checkups_in_collect": d.peak_running,
        "judge_s": stats(d.judge_s),
        "record_s": stats(d.record_s),
    }


def print_result(r: dict[str, Any], setup_times: dict[str, float]) -> None:
    def s(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f} s"

    def mib(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f} MiB"

    colors = ", ".join(f"{n} {c}" for c, n in sorted(r["colors"].items()))
    rows = [
        ("releases (checkups due at once)", r["releases"]),
        (
            "setup: ingest / until delivered",
            f"{s(setup_times['ingest_s'])} / {s(setup_times['setup_s'])}",
        ),
        ("first report at the fake", s(r["first_report_s"])),
        ("LAST REPORT (time to last verdict)", s(r["last_report_s"])),
        ("last Prometheus answer", s(r["last_prometheus_answer_s"])),
        ("last ops report / last page", f"{s(r['last_ops_report_s'])} / {s(r['last_page_s'])}"),
        (
            "Prometheus queries (per checkup)",
            f"{r['prometheus_queries']:,} ({r['prometheus_queries_per_checkup']:.0f})",
        ),
        (
            "queries/s, peak in flight",
            f"{r['queries_per_s']:,.0f}, {r['prometheus_peak_in_flight']}",
        ),
        ("verdicts", colors),
        ("pages delivered / red", f"{r['pages_delivered']} / {r['red_expected']}"),
        (
            "CPU: process / event loop (busy)",
            f"{s(r['process_cpu_s'])} / {s(r['event_loop_cpu_s'])} ({r['event_loop_busy']:.0%})",
        ),
        ("outbox drained", s(r["outbox_drained_s"])),
        ("peak RSS (ru_maxrss, whole run)", mib(r["peak_rss_mib"])),
        (
            "RSS before / peak / after checkups",
            f"{mib(r['rss_before_mib'])} / {mib(r['rss_sampled_peak_mib'])} / "
            f"{mib(r['rss_after_mib'])}",
        ),
        ("tracemalloc peak (checkups)", mib(r["tracemalloc_peak_mib"])),
        ("exactly once", "ok" if r["ok"] else "FAIL"),
    ]
    if "diagnosis" in r:
        d = r["diagnosis"]
        rows += [
            ("last verdict computed", s(d["last_verdict_s"])),
            ("last checkup started", s(d["last_judge_started_s"])),
            (
                "judge (collect) mean / max",
                f"{s(d['judge_s'].get('mean'))} / {s(d['judge_s'].get('max'))}",
            ),
            (
                "record (DB) mean / max",
                f"{s(d['record_s'].get('mean'))} / {s(d['record_s'].get('max'))}",
            ),
            ("peak checkups collecting", d["peak_checkups_in_collect"]),
        ]
    print(table(("measure", "value"), rows))


def quiet() -> None:
    """As bench.harness.quiet_logging, and: app shutdown cancels a checkup tick in flight,
    which APScheduler logs as a failed job."""
    quiet_logging()
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)


async def run(
    releases: int,
    *,
    database_url: str | None = None,
    spike_every: int = 10,
    concurrency: int = 50,
    latency: float = 0.05,
    child: bool = False,
    trace: bool = False,
    diagnose: bool = False,
    profile: str | None = None,
    tag: str = "",
) -> dict[str, Any]:
    quiet()
    run_id = f"{int(time.time()) % 100_000:05d}"
    spiked = {i for i in range(releases) if spike_every and i % spike_every == spike_every - 1}
    load_at_start = round(os.getloadavg()[0], 2)
    async with herald(
        database_url,
        concurrency=concurrency,
        latency=latency,
        spiked=[service_name(i) for i in sorted(spiked)],
        child=child,
    ) as stack:
        setup_times = await setup(stack, run_id, releases)
        with maybe_profile(profile):
            result = await checkup_phase(
                stack,
                run_id,
                releases,
                spiked,
                trace=trace,
                diagnosis=Diagnosis() if diagnose else None,
            )
        await stack.drained(within=5.0)
    where = "a child process" if child else "this process"
    print(
        f"Checkups: {releases} due at once; Prometheus stand-in in {where}, answering in "
        f"{latency * 1000:.0f} ms; checkup_concurrency={concurrency}; "
        f"{'PostgreSQL' if database_url else 'SQLite'}; 1-min load {load_at_start} at start"
    )
    print_result(result, setup_times)
    data = {
        "benchmark": "checkups",
        "database": "postgresql" if database_url else "sqlite",
        "prometheus_latency_s": latency,
        "prometheus_in_child_process": child,
        "checkup_concurrency": concurrency,
        "checkup_interval_s": INTERVAL,
        "tracemalloc": trace,
        "load_average_1m_at_start": load_at_start,
        **setup_times,
        **result,
    }
    print(f"→ {write_results('checkups' + tag, data)}")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=1000, help="releases (default 1000)")
    parser.add_argument("--quick", action="store_true", help="50 releases, results to *-quick")
    parser.add_argument("--database-url", help="e.g. postgresql://…/herald (an empty database)")
    parser.add_argument("--spike-every", type=int, default=10, help="every n-th service spikes")
    parser.add_argument("--concurrency", type=int, default=50, help="checkup_concurrency")
    parser.add_argument("--latency", type=float, default=0.05, help="Prometheus latency, s")
    parser.add_argument(
        "--prometheus-process",
        action="store_true",
        help="run the Prometheus stand-in in a child process (its CPU not charged to Herald)",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace the checkup phase (~3× slower)"
    )
    parser.add_argument("--diagnose", action="store_true", help="time judge and record")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the checkup phase")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = await run(
        50 if args.quick else args.releases,
        database_url=args.database_url,
        spike_every=args.spike_every,
        concurrency=args.concurrency,
        latency=args.latency,
        child=args.prometheus_process,
        trace=args.tracemalloc,
        diagnose=args.diagnose,
        profile=args.profile,
        tag="-quick" if args.quick else "",
    )
    if not data["ok"]:
        print("FAIL: reports or pages at the fakes differ from the expected set", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
