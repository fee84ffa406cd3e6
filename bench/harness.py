"""Shared benchmark plumbing: Herald + the Slack stand-in in one process, over loopback HTTP.

Herald is built exactly as `herald serve` builds it (`build_app`, a fresh SQLite file, the
outbox worker running, `delivery_poll_seconds=1.0` as in production). The client, Herald and
FakeSlack share one event loop, so every figure includes the client's own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, SupportsIndex

import aiohttp
from aiohttp import web

from bot.app import build_app
from bot.deps import DEPS
from bot.settings import Settings
from bot.store import outbox
from standins.slack import FakeSlack, SlackCall

FEED, OPS = "CFEED", "COPS"
TOKEN = "bench-ingest-token"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
POST_MESSAGE = "chat.postMessage"
BASE_TIME = datetime(2025, 10, 2, 20, 0, tzinfo=UTC)

# (event, minutes after created_at, details). With no flags and <= 5 changes every event
# causes exactly one feed message; deployed adds the internal release notes in the feed
# thread, failed the ops incident root and rolled_back an ops thread reply: 8 posts a release.
EVENTS: list[tuple[str, int, dict[str, Any]]] = [
    ("release.started", 2, {"links": {"run": "https://ci.example.com/acme/runs/1"}}),
    ("release.deployed", 9, {"lead_time_seconds": 28800}),
    (
        "release.failed",
        24,
        {"symptom": "spike in 5xx on /checkout", "pagerduty": "P2-1", "next": "roll back"},
    ),
    ("release.rolled_back", 27, {"to_version": "1.0.0", "reason": "5xx above 2%"}),
]
EVENTS_PER_RELEASE = 1 + len(EVENTS)
MESSAGES_PER_EVENT = {
    "release.planned": 1,
    "release.started": 1,
    "release.deployed": 2,
    "release.failed": 2,
    "release.rolled_back": 2,
}
MESSAGES_PER_RELEASE = sum(MESSAGES_PER_EVENT.values())


def quiet_logging() -> None:
    """Herald is not configured to log here; keep Python's last-resort handler quiet too."""
    logging.getLogger().setLevel(logging.ERROR)


# -- workload ------------------------------------------------------------------------------


def manifest(run: str, index: int, *, service: str | None = None) -> dict[str, Any]:
    """A manifest without flags or extra links and with 3 changes: no details thread.
    Without `service`, one release per service: no "superseded" notes."""
    service = service or f"svc-{run}-{index:05d}"
    return {
        "id": f"bench-{run}-{index:05d}",
        "version": f"1.{index}.0",
        "env": "prod",
        "service": service,
        "git": {
            "repo": f"github.com/acme/{service}",
            "commit": f"{index:07x}",
            "tag": f"v1.{index}",
        },
        "changes": [
            {"type": "feat", "scope": "billing", "summary": f"change {n}", "issues": [f"P-{n}"]}
            for n in range(3)
        ],
        "rollback": {"to_version": "1.0.0", "strategy": "Argo Rollout abort"},
        "owner": "team-bench",
        "created_at": (BASE_TIME + timedelta(hours=index)).isoformat(),
    }


@dataclass(frozen=True)
class Step:
    """One POST: a manifest (event release.planned) or a lifecycle event."""

    release_id: str
    event: str
    path: str
    body: dict[str, Any]


def release_steps(run: str, index: int, *, service: str | None = None) -> list[Step]:
    """The five POSTs of one release, in order."""
    body = manifest(run, index, service=service)
    release_id = str(body["id"])
    created = datetime.fromisoformat(str(body["created_at"]))
    steps = [Step(release_id, "release.planned", "/api/v1/releases", body)]
    for event, minutes, details in EVENTS:
        at = (created + timedelta(minutes=minutes)).isoformat()
        path = f"/api/v1/releases/{release_id}/events"
        steps.append(Step(release_id, event, path, {"event": event, "at": at, **details}))
    return steps


def call_key(call: SlackCall) -> tuple[str, str] | None:
    """(release id, event type) of a chat.postMessage, from its event metadata."""
    if call.method != POST_MESSAGE:
        return None
    metadata = call.body.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    if not isinstance(payload, dict):
        return None
    return str(payload.get("id")), str(payload.get("event"))


class CallLog(list[SlackCall]):
    """FakeSlack's call list, telling a listener about each call as it arrives."""

    def __init__(self, listener: Callable[[SlackCall], None]) -> None:
        super().__init__()
        self._listener = listener

    def append(self, call: SlackCall) -> None:
        super().append(call)
        self._listener(call)

    def insert(self, index: SupportsIndex, call: SlackCall) -> None:  # pragma: no cover
        raise NotImplementedError


# -- Herald in-process ---------------------------------------------------------------------


@dataclass
class Stack:
    slack: FakeSlack
    runner: web.AppRunner
    session: aiohttp.ClientSession
    url: str

    async def post(self, step: Step) -> tuple[float, float]:
        """POST one step; (monotonic send time, monotonic time the 201 was fully read)."""
        sent = time.monotonic()
        async with self.session.post(self.url + step.path, json=step.body) as response:
            await response.read()
            accepted = time.monotonic()
            if response.status != 201:
                text = (await response.text())[:300]
                raise RuntimeError(f"{step.event} {step.release_id}: HTTP {response.status} {text}")
        return sent, accepted

    async def open_outbox_rows(self) -> int:
        return await outbox.count_open(database=self.runner.app[DEPS].database)

    async def settle(self, *, within: float = 5.0) -> int:
        """Wait until the outbox has no open rows; returns how many are left.

        Shutting the app down cancels the worker; cancelling it inside a transaction makes
        SQLAlchemy log a CancelledError traceback, so let it record its last posts first.
        """
        count = await self.open_outbox_rows()
        for _ in range(int(within / 0.05)):
            if not count:
                break
            await asyncio.sleep(0.05)
            count = await self.open_outbox_rows()
        await asyncio.sleep(0.1)
        return count


FIRST_TICK = 1.0  # seconds for the checkup clock's first tick, at start, to be over


@contextlib.asynccontextmanager
async def herald_stack(
    *, poll_seconds: float = 1.0, connections: int = 100, channels: Sequence[str] = ()
) -> AsyncIterator[Stack]:
    """FakeSlack (with `channels` beside the feed and ops), then Herald on a fresh SQLite
    file, then an aiohttp client session."""
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        async with FakeSlack(channels=(FEED, OPS, *channels)) as slack:
            settings = Settings(
                slack_bot_token=slack.token,
                slack_signing_secret="bench-signing-secret",
                slack_api_url=slack.api_url,
                feed_channel=FEED,
                ops_channel=OPS,
                database_url=f"sqlite:///{Path(tmp) / 'herald.db'}",
                ingest_token=TOKEN,
                delivery_poll_seconds=poll_seconds,
                # the events are dated 2025, so every checkup would fall due at once and its
                # reports would share the channels being measured: the clock ticks at start
                # (nothing is due yet) and not again within a run
                checkup_interval_seconds=300,
            )
            runner = web.AppRunner(build_app(settings), access_log=None)
            await runner.setup()
            await asyncio.sleep(FIRST_TICK)
            try:
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                host, port = runner.addresses[0][:2]
                connector = aiohttp.TCPConnector(limit=connections)
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
                    yield Stack(slack, runner, session, f"http://{host}:{port}")
            finally:
                await runner.cleanup()


# -- statistics and output -----------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    if not sorted_values:
        return float("nan")
    rank = (len(sorted_values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    values = sorted(s * 1000 for s in seconds)
    return {
        "n": len(values),
        "min": values[0] if values else float("nan"),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else float("nan"),
        "mean": sum(values) / len(values) if values else float("nan"),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path


@contextlib.contextmanager
def maybe_profile(path: str | None, *, top: int = 25) -> Iterator[None]:
    """With a path: cProfile the block, dump the stats there and print the top costs."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        print(out.getvalue())


@contextlib.asynccontextmanager
async def sampled(pid: int, path: Path | None, *, rate: int = 250) -> AsyncIterator[None]:
    """With a path: py-spy samples process `pid` and its children (Herald's workers) while the
    block runs, writing collapsed stacks there (`frame;frame;... count` per line)."""
    if path is None:
        yield
        return
    beside = Path(sys.executable).parent / "py-spy"  # installed with the dev dependencies
    command = [str(beside) if beside.exists() else "py-spy", "record", "--pid", str(pid)]
    command += ["--subprocesses", "--rate", str(rate), "--format", "raw", "--nonblocking"]
    spy = await asyncio.create_subprocess_exec(
        *command,
        "--output",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # attached
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        await spy.wait()


def summarize_samples(path: Path, *, root: int, top: int = 10) -> dict[str, list[Any]]:
    """Where the samples of `path` (py-spy raw) were, per process — `server` for pid `root`,
    `worker` for its children — by the package of the innermost frame:
    {process: [(package, % of that process's samples), ...]}."""
    counts: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not n.isdigit() or not frames[0].startswith("process "):
            continue
        pid = int(frames[0].removeprefix("process ").split(":", 1)[0])
        process = counts.setdefault("server" if pid == root else "worker", {})
        package = _package(frames[-1])
        process[package] = process.get(package, 0) + int(n)
    return {
        name: [
            (package, round(100 * n / sum(found.values()), 1))
            for package, n in sorted(found.items(), key=lambda item: -item[1])[:top]
        ]
        for name, found in counts.items()
    }


def _package(frame: str) -> str:
    """`Connection._execute (aiosqlite/core.py:158)` → `aiosqlite`; selectors → `idle`."""
    where = frame[frame.rfind("(") + 1 : frame.rfind(")")].rsplit(":", 1)[0]
    top = where.split("/", 1)[0].removesuffix(".py")
    if top == "selectors":
        return "idle"
    if top == "bot" and where.count("/") >= 2:
        return "bot." + where.split("/")[1]
    return top
