"""How fast CI's gate answers with a full store: `GET /api/v1/releases/{id}/gate` on a Herald
holding 10,000 releases and 200 freeze windows (100 recurring ones in the catalogue, in six
time zones, and 100 declared from Slack, in the store), against two floors measured in the
same run on the same server: `GET /healthz` (the HTTP round trip alone) and
`GET /api/v1/releases/{id}` (one release read with its events). And the release calendar:
`GET /api/v1/calendar` for six weeks across all 500 services (every tenth round).

Each run asks the three routes `--requests` times each, interleaved, for random releases, one
request at a time, on SQLite; p50 and p99 per route and the gate's ratios to both floors. The
freeze part alone (the calendar's `holding` for one release, pure CPU) is timed too.

Usage: python bench/gate.py [--releases 10000] [--requests 500] [--runs 3] [--tag -quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.harness import manifest, quiet_logging, summary_ms, table, write_results
from bench.processes import INGEST_TOKEN, herald_settings
from bot.app import build_app
from bot.catalog import Catalog
from bot.deps import DEPS
from bot.domain.approval.policy import Need, Tier
from bot.domain.approval.votes import Vote
from bot.domain.freeze.book import DeclaredFreeze
from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.recording import record_event, register_release
from bot.domain.transactions import run_in_transaction

ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
)
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def catalogue(services: int) -> Catalog:
    """`services` services and 100 weekly windows, each over a few of them, in six zones."""
    freezes = [
        {
            "name": f"weekly-{n}",
            "reason": "a recurring window",
            "rrule": f"FREQ=WEEKLY;BYDAY={DAYS[n % 7]};BYHOUR={n % 24};BYMINUTE=0",
            "duration": f"{1 + n % 5}h",
            "timezone": ZONES[n % len(ZONES)],
            "services": [f"svc-{(n * 7 + k) % services:04d}" for k in range(3)],
        }
        for n in range(100)
    ]
    owners = {"owners": ["U0OWNER01"]}
    return Catalog.model_validate(
        {"services": {f"svc-{n:04d}": owners for n in range(services)}, "freezes": freezes}
    )


CAB = Need(Tier.NORMAL, count=2, distinct=True, review=False)


async def fill(app: web.Application, *, releases: int, services: int) -> list[str]:
    """`releases` releases: one in five shipped in the last fortnight (started and deployed),
    one in seven planned for the next five weeks, the rest planned without a date; one in
    three waits for two approvers (CAB), half of those with one vote in."""
    deps = app[DEPS]
    ids = []
    for index in range(releases):
        body = manifest("gate", index, service=f"svc-{index % services:04d}")
        if index % 7 == 0:
            body["planned_for"] = (NOW + timedelta(hours=index % (35 * 24))).isoformat()
        parsed = Manifest.model_validate(body)
        shipped = NOW - timedelta(hours=index % (14 * 24)) if index % 5 == 0 else None

        need = CAB if shipped is None and index % 3 == 0 else None
        voted = index % 2 == 0

        async def record(
            ledger: Ledger,
            parsed: Manifest = parsed,
            at: object = shipped,
            need: Any = need,
            voted: bool = voted,
        ) -> None:
            await register_release(ledger=ledger, manifest=parsed, now=NOW, need=need)
            if need is not None and voted:
                await vote(ledger, parsed.id)
            if isinstance(at, datetime):
                for event in (EventType.STARTED, EventType.DEPLOYED):
                    request = EventRequest(event=event, at=at)
                    await record_event(
                        ledger=ledger, release_id=parsed.id, request=request, now=NOW
                    )

        await run_in_transaction(deps.ledgers, record)
        ids.append(str(body["id"]))
    for n in range(100):  # declared from Slack: a day each, some in force now
        start = NOW - timedelta(hours=n)
        service = f"svc-{n % services:04d}" if n % 4 else None
        declared = DeclaredFreeze(
            service, "prod", "declared", start, start + timedelta(days=1), "U0ADMIN"
        )
        await deps.freezes.declare(declared)
    return ids


async def vote(ledger: Ledger, release_id: str) -> None:
    approval = await ledger.lock_approval(release_id)
    assert approval is not None
    first = Vote("U0LEAD", True, NOW, ("S0LEADS",))
    await ledger.add_vote(approval=approval.with_vote(first), vote=first)


async def ask(session: aiohttp.ClientSession, url: str) -> float:
    began = time.perf_counter()
    async with session.get(url, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}) as response:
        await response.read()
        assert response.status == 200, (url, response.status)
    return time.perf_counter() - began


async def one_run(base: str, ids: list[str], *, requests: int, seed: int) -> dict[str, Any]:
    chooser = random.Random(seed)
    times: dict[str, list[float]] = {"healthz": [], "release": [], "gate": [], "calendar": []}
    async with aiohttp.ClientSession() as session:
        for n in range(requests):
            rid = chooser.choice(ids)
            times["healthz"].append(await ask(session, f"{base}/healthz"))
            times["release"].append(await ask(session, f"{base}/api/v1/releases/{rid}"))
            times["gate"].append(await ask(session, f"{base}/api/v1/releases/{rid}/gate"))
            if n % 10 == 0:  # six weeks, every service
                times["calendar"].append(await ask(session, f"{base}/api/v1/calendar?weeks=6"))
    return {name: summary_ms(values) for name, values in times.items()}


async def time_holding(app: web.Application, services: int, *, repeat: int = 2000) -> float:
    calendar = await app[DEPS].freezes.calendar(now=NOW)
    began = time.perf_counter()
    for n in range(repeat):
        calendar.holding(f"svc-{n % services:04d}", "prod", at=NOW)
    return (time.perf_counter() - began) / repeat * 1000


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    quiet_logging()
    with tempfile.TemporaryDirectory() as tmp:
        settings = herald_settings(
            {"slack_token": "xoxb-bench", "slack_api_url": "http://127.0.0.1:9/api/"},
            database_url=f"sqlite:///{Path(tmp) / 'herald.db'}",
        )
        app = build_app(
            settings, catalog=catalogue(args.services), clock=lambda: NOW, deliver=False
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            began = time.perf_counter()
            ids = await fill(app, releases=args.releases, services=args.services)
            took = time.perf_counter() - began
            print(f"stored {len(ids)} releases and 100 declared freezes in {took:.0f} s")
            holding_ms = await time_holding(app, args.services)
            runs = [
                await one_run(f"http://{host}:{port}", ids, requests=args.requests, seed=run)
                for run in range(args.runs)
            ]
        finally:
            await runner.cleanup()
    rows = []
    for number, run in enumerate(runs, 1):
        gate, health, release = run["gate"], run["healthz"], run["release"]
        rows.append([
            number, health["p50"], health["p99"], release["p50"], release["p99"], gate["p50"],
            gate["p99"], gate["p99"] / health["p99"], gate["p99"] / release["p99"],
        ])  # fmt: skip
    headers = ["run", "healthz p50", "p99", "release p50", "p99", "gate p50", "p99"]
    print(table([*headers, "gate/healthz p99", "gate/release p99"], rows))
    calendar_rows = [
        [
            n,
            r["calendar"]["n"],
            r["calendar"]["p50"],
            r["calendar"]["p99"],
            r["calendar"]["p50"] / r["release"]["p50"],
        ]
        for n, r in enumerate(runs, 1)
    ]
    print(table(["run", "calendar n", "p50", "p99", "calendar/release p50"], calendar_rows))
    print(f"the freeze calendar's holding(), 200 windows: {holding_ms:.3f} ms a release")
    path = write_results(
        f"gate{args.tag}",
        {"args": vars(args), "runs": runs, "holding_ms": holding_ms},
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
