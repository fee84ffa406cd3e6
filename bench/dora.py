"""DORA over 1,000,000 stored releases: one service and all services, SQLite and PostgreSQL.

Releases are generated in Python (seeded, so both databases hold the same rows) and written
with bulk SQL (`executemany` on SQLite, `COPY` on PostgreSQL), not through the API: 50
services with Zipf-like deploy rates over one year, 85 % prod and 15 % staging. Per release:
started 1-10 min after it was planned; 97 % deployed 2-20 min later, 3 % fail during rollout;
9 % of deploys fail later (exponential, mean 2 h), 60 % of failures are rolled back, 95 % of
failures recover (log-normal, median 45 min), the rest stay open; 3 % are `risk: emergency`;
lead time log-normal with a median of 8 h.

Timed: `bot.store.dora.dora_report` (the window and the one before it, as the API serves it)
through Herald's own async engine, cold (first call) and then the median of `--repeat` calls,
for one service in prod and for all services in prod, over 30, 90 and 365 days ending at
midnight, and 365 days ending at 19:00 (as the API asks for "now": part-days at both ends);
`--runs` times (3), each run on a fresh engine. The headline is 365 days, all services: the
median of the runs' medians. The very first call of run 1 summarizes every day the load
wrote (`dora_days`, bot/store/dora_days.py); later ones read the summaries. Floor, in the
same run just before each report: two bare aggregates over the same indexes that read every
deploy of both windows with its lead time and every failure with its recovery (`floor_scan`),
the least a report computed from the releases themselves must read; each figure is also
given as a multiple of it (below 1: the summaries read less). Checks: SQL equals the pure
computation for one service (30 and 365 days, and 365 days ending mid-day), every run gives
the same reports, and SQLite equals PostgreSQL for all of them.

PostgreSQL: `--database-url` (an *empty* database), else a throwaway server started with
`tests.harness.postgres.start_postgres` when PostgreSQL's binaries are installed. After the
load it runs ANALYZE (autovacuum would, on a real server); SQLite gets no ANALYZE, as Herald
never runs it.

Usage: python bench/dora.py [--releases 1000000] [--repeat 5] [--runs 3] [--database-url URL]
                            [--no-postgres] [--tag=-quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Index, func, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401  (registers the tables)
from bench.harness import table, write_results
from bot.domain.dora.reference import ReleaseFacts
from bot.domain.dora.report import DoraReport, compute_report
from bot.domain.dora.window import DoraWindow
from bot.store.database import Database, create_engine, is_sqlite, sync_url
from bot.store.dora import dora_report
from bot.store.migrate import upgrade

END = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
SERVICES = 50
SEED = 20261123
CHUNK = 20_000
COLUMNS = (
    "id",
    "service",
    "env",
    "version",
    "owner",
    "state",
    "manifest",
    "digest",
    "revision",
    "received_at",
    "planned_at",
    "started_at",
    "deployed_at",
    "failed_at",
    "rolled_back_at",
    "recovered_at",
    "lead_time_seconds",
    "links",
)
WINDOWS = (30, 90, 365)
ONE_SERVICE = "svc-07"
ENV = "prod"
HEADLINE_DAYS = 365
MID_DAY = END - timedelta(hours=5)
# (days, scope, service, end): each window for one service and all services, ending at
# midnight, and the headline window ending mid-day as the API asks it ("now"), whose first
# and last part-days are read from the releases themselves.
CASES = [
    (days, scope, service, END)
    for days in WINDOWS
    for scope, service in (("one service", ONE_SERVICE), ("all services", None))
] + [
    (HEADLINE_DAYS, f"{scope}, ends 19:00", service, MID_DAY)
    for scope, service in (("one service", ONE_SERVICE), ("all services", None))
]
TIMING_COLUMNS = [
    "run",
    "window",
    "scope",
    "deploys",
    "prev",
    "floor ms",
    "cold ms",
    "median ms",
    "max ms",
    "x floor",
]
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    values: tuple[Any, ...]
    facts: ReleaseFacts


def service_weights(count: int) -> list[float]:
    """Zipf-like: a few busy services, a long tail (the busiest ~12x the median)."""
    return [1.0 / (rank + 1) ** 0.8 for rank in range(count)]


def generate(total: int, *, services: int = SERVICES, seed: int = SEED) -> Iterator[Row]:
    """`total` releases, the same for the same seed, in the order they were received."""
    rng = random.Random(seed)
    names = [f"svc-{i:02d}" for i in range(services)]
    weights = service_weights(services)
    start = END - YEAR
    step = YEAR.total_seconds() / total
    for index in range(total):
        received = start + timedelta(seconds=index * step + rng.random() * step)
        received = received.replace(microsecond=rng.randrange(1_000_000))
        service = rng.choices(names, weights)[0]
        env = ENV if rng.random() < 0.85 else "staging"
        started = received + timedelta(seconds=rng.uniform(60, 600))
        deployed = failed = rolled_back = recovered = None
        state = "release.started"
        lead = None
        if rng.random() < 0.97:
            deployed = started + timedelta(seconds=rng.uniform(120, 1200))
            state = "release.deployed"
            lead = rng.lognormvariate(math.log(8 * 3600), 1.0)
            if rng.random() < 0.09:
                failed = deployed + timedelta(seconds=rng.expovariate(1 / 7200))
        else:
            failed = started + timedelta(seconds=rng.uniform(30, 600))
        if failed is not None:
            state = "release.failed"
            if rng.random() < 0.6:
                rolled_back = failed + timedelta(seconds=rng.uniform(120, 900))
                state = "release.rolled_back"
            if rng.random() < 0.95:
                after = rolled_back or failed
                recovered = after + timedelta(seconds=rng.lognormvariate(math.log(2700), 0.8))
                state = "release.recovered"
        emergency = rng.random() < 0.03
        rid = f"{service}-{index:07d}"
        version = f"1.{index // 1000}.{index % 1000}"
        commit = f"{rng.getrandbits(40):010x}"
        manifest: dict[str, Any] = {
            "id": rid,
            "version": version,
            "env": env,
            "service": service,
            "git": {"repo": f"github.com/acme/{service}", "commit": commit},
            "changes": [
                {"type": rng.choice(("feat", "fix", "chore")), "summary": "change", "issues": []}
                for _ in range(rng.randint(1, 3))
            ],
            "owner": f"team-{service}",
            "created_at": received.isoformat(),
        }
        if emergency:
            manifest["risk"] = "emergency"
        values = (
            rid,
            service,
            env,
            version,
            f"team-{service}",
            state,
            json.dumps(manifest, separators=(",", ":")),
            f"{rng.getrandbits(128):032x}",
            5,
            received,
            received,
            started,
            deployed,
            failed,
            rolled_back,
            recovered,
            lead,
            "{}",
        )
        facts = ReleaseFacts(
            service=service,
            env=env,
            deployed_at=deployed,
            failed_at=failed,
            rolled_back_at=rolled_back,
            recovered_at=recovered,
            lead_time_seconds=lead,
            hotfix=emergency,
        )
        yield Row(values, facts)


def chunks(rows: Iterator[Row], keep: list[ReleaseFacts]) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in batches; the facts of ONE_SERVICE are kept for the pure check."""
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        if row.facts.service == ONE_SERVICE:
            keep.append(row.facts)
        batch.append(row.values)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_text(at: datetime | None) -> str | None:
    """UtcDateTime's SQLite storage: naive UTC, fixed width with microseconds."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, total: int, keep: list[ReleaseFacts]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        marks = ",".join("?" * len(COLUMNS))
        statement = f"INSERT INTO releases ({','.join(COLUMNS)}) VALUES ({marks})"
        for batch in chunks(generate(total), keep):
            conn.executemany(
                statement,
                [tuple(sqlite_text(v) if isinstance(v, datetime) else v for v in r) for r in batch],
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def load_postgres(url: str, total: int, keep: list[ReleaseFacts]) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=parsed.host or "",
        port=parsed.port or 5432,
        user=parsed.username or "",
        password=parsed.password or "",
        dbname=parsed.database or "",
    )
    with psycopg.connect(conninfo) as conn:
        existing = conn.execute("SELECT count(*) FROM releases").fetchone()
        if existing and existing[0]:
            raise SystemExit(f"{url}: releases is not empty; give an empty database")
        with conn.cursor() as cursor:
            copy_sql = f"COPY releases ({','.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for batch in chunks(generate(total), keep):
                    for values in batch:
                        copy.write_row(values)
        conn.commit()


def releases_indexes() -> list[Index]:
    return sorted(SQLModel.metadata.tables["releases"].indexes, key=lambda ix: str(ix.name))


def drop_indexes(url: str) -> None:
    """A bulk load is faster into a bare table, with the indexes built once afterwards."""
    engine = create_sync_engine(sync_url(url))
    try:
        for index in releases_indexes():
            index.drop(engine)
    finally:
        engine.dispose()


def build_indexes(url: str) -> None:
    engine = create_sync_engine(sync_url(url))
    try:
        for index in releases_indexes():
            index.create(engine)
    finally:
        engine.dispose()


def postgres_maintenance(url: str, statement: str) -> None:
    engine = create_sync_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


async def timed(call: Callable[[], Awaitable[T]], repeat: int) -> tuple[T, float, list[float]]:
    """The last result, the first (cold) call's seconds, and the `repeat` warm calls'."""
    times = []
    result = None
    for _ in range(1 + repeat):
        began = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - began)
    assert result is not None
    return result, times[0], times[1:] or times


async def floor_scan(database: Database, window: DoraWindow, service: str | None) -> int:
    """The least any implementation must read: every deploy of both windows (the asked one
    and the one before it) with its lead time, and every failure with its recovery, as two
    bare aggregates over the same indexes the report reads (`ix_releases_dora_*deployed`,
    `ix_releases_dora_*failed`). No percentile, no per-day count: a floor, not a report."""
    c = SQLModel.metadata.tables["releases"].c
    scope = [c.env == ENV] + ([c.service == service] if service else [])
    span = (window.previous().start, window.end)
    deploys = select(func.count(), func.sum(c.lead_time_seconds)).where(
        c.deployed_at >= span[0], c.deployed_at < span[1], *scope
    )
    failures = select(func.count(), func.count(c.recovered_at)).where(
        c.failed_at >= span[0], c.failed_at < span[1], *scope
    )
    async with database.read() as session:
        rows = (await session.execute(deploys)).one()
        await session.execute(failures)
    return int(rows[0])


async def time_reports(
    url: str, repeat: int, run: int
) -> tuple[list[dict[str, Any]], dict[tuple[int, str], DoraReport]]:
    """One run: for each window and scope, the floor, then the report (cold, then warm)."""
    database = Database(create_engine(url))
    rows: list[dict[str, Any]] = []
    reports: dict[tuple[int, str], DoraReport] = {}
    try:
        for days, scope, service, end in CASES:
            window = DoraWindow.ending(end, timedelta(days=days))
            read, _, floor_times = await timed(
                partial(floor_scan, database, window, service), repeat
            )
            report, cold, warm = await timed(
                partial(dora_report, database, window=window, service=service, env=ENV),
                repeat,
            )
            reports[(days, scope)] = report
            median, floor = statistics.median(warm), statistics.median(floor_times)
            rows.append(
                {
                    "run": run,
                    "window_days": days,
                    "scope": scope,
                    "deploys": report.deploy_frequency_per_day.count,
                    "deploys_previous": report.previous.deploy_frequency_per_day.count
                    if report.previous
                    else 0,
                    "floor_rows": read,
                    "floor_ms": round(floor * 1000, 1),
                    "cold_ms": round(cold * 1000, 1),
                    "median_ms": round(median * 1000, 1),
                    "max_ms": round(max(warm) * 1000, 1),
                    "ratio_to_floor": round(median / floor, 2),
                }
            )
    finally:
        await database.close()
    return rows, reports


async def time_runs(
    url: str, repeat: int, runs: int
) -> tuple[list[dict[str, Any]], dict[tuple[int, str], DoraReport]]:
    """`runs` runs, each on a fresh engine (so each has its cold call); every run's reports
    must be equal."""
    rows: list[dict[str, Any]] = []
    reports: dict[tuple[int, str], DoraReport] = {}
    for run in range(1, runs + 1):
        timings, these = await time_reports(url, repeat, run)
        assert not reports or these == reports, "a run gave another report"
        rows += timings
        reports = these
    return rows, reports


def summary(report: DoraReport) -> dict[str, Any]:
    figures = report.as_dict()["figures"]
    return {
        name: {"value": fig["value"], "count": fig["count"]} for name, fig in figures.items()
    } | {"frequency_bucket": report.frequency_bucket.value}


def print_timings(rows: list[dict[str, Any]]) -> None:
    print(
        table(
            TIMING_COLUMNS,
            [
                [
                    r["run"],
                    f"{r['window_days']}d",
                    r["scope"],
                    r["deploys"],
                    r["deploys_previous"],
                    r["floor_ms"],
                    r["cold_ms"],
                    r["median_ms"],
                    r["max_ms"],
                    r["ratio_to_floor"],
                ]
                for r in rows
            ],
        )
    )


def headline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The 365-day all-services figures: the median over runs of each run's median."""
    chosen = [r for r in rows if r["window_days"] == HEADLINE_DAYS and r["scope"] == "all services"]
    return {
        "window_days": HEADLINE_DAYS,
        "scope": "all services",
        "runs": len(chosen),
        "median_ms": round(statistics.median(r["median_ms"] for r in chosen), 1),
        "floor_ms": round(statistics.median(r["floor_ms"] for r in chosen), 1),
        "ratio_to_floor": round(statistics.median(r["ratio_to_floor"] for r in chosen), 2),
        "per_run_median_ms": [r["median_ms"] for r in chosen],
    }


async def bench_database(
    label: str, url: str, total: int, *, repeat: int, runs: int
) -> tuple[dict[str, Any], dict[tuple[int, str], DoraReport]]:
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(drop_indexes, url)
    keep: list[ReleaseFacts] = []
    began = time.perf_counter()
    if is_sqlite(url):
        path = Path(url.removeprefix("sqlite:///"))
        await asyncio.to_thread(load_sqlite, path, total, keep)
    else:
        await asyncio.to_thread(load_postgres, url, total, keep)
    load_s = time.perf_counter() - began
    began = time.perf_counter()
    await asyncio.to_thread(build_indexes, url)
    index_s = time.perf_counter() - began
    loaded = f"generated and loaded in {load_s:.0f}s, indexed in {index_s:.0f}s"
    print(f"{label}: {total:,} releases {loaded}")
    phases: dict[str, list[dict[str, Any]]] = {}
    if is_sqlite(url):
        rows, reports = await time_runs(url, repeat, runs)
        phases["as loaded (no ANALYZE: Herald never runs it)"] = rows
    else:
        await asyncio.to_thread(postgres_maintenance, url, "ANALYZE releases")
        phases["after ANALYZE (no visibility map: index scans visit the heap)"] = (
            await time_runs(url, repeat, runs)
        )[0]
        await asyncio.to_thread(postgres_maintenance, url, "VACUUM ANALYZE releases")
        rows, reports = await time_runs(url, repeat, runs)
        phases["after VACUUM ANALYZE (what autovacuum leaves: index-only scans)"] = rows
    for phase, timings in phases.items():
        print(f"{label}, {phase}:")
        print_timings(timings)
    matches = True
    for days, scope, end in (
        (30, "one service", END),
        (HEADLINE_DAYS, "one service", END),
        (HEADLINE_DAYS, "one service, ends 19:00", MID_DAY),
    ):
        window = DoraWindow.ending(end, timedelta(days=days))
        pure = compute_report(keep, window, service=ONE_SERVICE, env=ENV)
        same = reports[(days, scope)] == pure
        print(f"{label}: SQL == pure computation for {ONE_SERVICE}, {days}d to {end}: {same}")
        matches = matches and same
    for phase, timings in phases.items():
        line = headline(timings)
        print(
            f"{label}, {phase}: {HEADLINE_DAYS}d all services, median of {line['runs']} runs: "
            f"{line['median_ms']} ms, {line['ratio_to_floor']}x the floor "
            f"({line['floor_ms']} ms)"
        )
    print()
    size = None
    if is_sqlite(url):
        size_bytes = await asyncio.to_thread(os.path.getsize, url.removeprefix("sqlite:///"))
        size = round(size_bytes / 2**20)
    data = {
        "database": label,
        "releases": total,
        "load_seconds": round(load_s, 1),
        "index_seconds": round(index_s, 1),
        "sqlite_file_mib": size,
        "headline": {phase: headline(timings) for phase, timings in phases.items()},
        "timings": phases,
        "matches_pure_one_service": matches,
        "report_all_services_30d": summary(reports[(30, "all services")]),
    }
    return data, reports


@contextlib.contextmanager
def postgres_url(given: str | None, enabled: bool) -> Iterator[str | None]:
    if given or not enabled:
        yield given
        return
    from tests.harness.postgres import PostgresStartError, find_pg_bin, start_postgres

    if find_pg_bin() is None:
        print("PostgreSQL binaries not found: SQLite only (give --database-url to use one)")
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="herald-bench-pg-"))
    base.chmod(0o755)  # the server runs as `postgres` when we are root
    try:
        try:
            server = start_postgres(base)
        except PostgresStartError as exc:
            print(f"could not start PostgreSQL: {exc}")
            yield None
            return
        try:
            yield server.url
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def run(
    total: int,
    *,
    repeat: int = 5,
    runs: int = 3,
    database_url: str | None = None,
    postgres: bool = True,
    tag: str = "",
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    all_reports: dict[str, dict[tuple[int, str], DoraReport]] = {}
    with tempfile.TemporaryDirectory(prefix="herald-bench-dora-") as tmp:
        sqlite_url = f"sqlite:///{tmp}/herald.db"
        data, reports = await bench_database("sqlite", sqlite_url, total, repeat=repeat, runs=runs)
        results.append(data)
        all_reports["sqlite"] = reports
    with postgres_url(database_url, postgres) as url:
        if url is not None:
            data, reports = await bench_database("postgresql", url, total, repeat=repeat, runs=runs)
            results.append(data)
            all_reports["postgresql"] = reports
    same = None
    if len(all_reports) == 2:
        same = all(
            all_reports["sqlite"][k] == all_reports["postgresql"][k] for k in all_reports["sqlite"]
        )
        print(f"SQLite == PostgreSQL for every window and scope: {same}")
    goal_ms = 1000.0
    within = all(line["median_ms"] < goal_ms for d in results for line in d["headline"].values())
    matches = all(d["matches_pure_one_service"] for d in results)
    out = {
        "ok": matches and same is not False,
        "releases": total,
        "services": SERVICES,
        "goal_ms": goal_ms,
        "headline_window_days": HEADLINE_DAYS,
        "within_goal": within,
        "sqlite_equals_postgresql": same,
        "results": results,
    }
    path = write_results(f"dora{tag}", out)
    print(
        f"{HEADLINE_DAYS}-day DORA, all services, under {goal_ms:.0f} ms everywhere: {within}. "
        f"Written to {path}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed calls after the cold one")
    parser.add_argument("--runs", type=int, default=3, help="runs, each with its cold call")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to load into")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--tag", default="", help="suffix of the results file, e.g. -quick")
    args = parser.parse_args(argv)
    began = time.monotonic()
    out = asyncio.run(
        run(
            args.releases,
            repeat=args.repeat,
            runs=args.runs,
            database_url=args.database_url,
            postgres=not args.no_postgres,
            tag=args.tag,
        )
    )
    print(f"done in {time.monotonic() - began:.0f}s")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
