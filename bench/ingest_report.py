"""The ingest benchmark's ratios, table, results file and exactly-once verdict."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.harness import MESSAGES_PER_RELEASE, table, write_results


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each Herald cell's events/s over the floor's at the same clients in the same run."""
    floors = {(r["run"], r["clients"]): r for r in rows if r["server"] == "floor"}
    for r in rows:
        floor = floors.get((r["run"], r["clients"]))
        if r["server"] == "herald" and floor is not None:
            r["x_floor"] = r["events_per_s"] / floor["events_per_s"]
            r["cpu_x_floor"] = r["cpu_per_s"] / floor["cpu_per_s"] if floor["cpu_per_s"] else None
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    body = []
    for r in rows:
        herald = r["server"] == "herald"
        delivery = r.get("delivery_ms", {})
        body.append(
            [
                r["run"],
                r["clients"],
                f"{r['server']} ×{r['processes']}",
                f"{r['events_per_s']:.0f}",
                f"{r['x_floor']:.2f}x" if herald else "",
                f"{r['drain_s']:.1f}" if herald else "",
                f"{r['messages_per_s']:.0f}" if herald else "",
                f"{r['lost']}/{r['duplicated']}" if herald else "",
                r.get("throttled", "") if herald else "",
                _seconds(delivery.get("urgent")),
                _seconds(delivery.get("other")),
                f"{r['cpu_per_s']:.2f}",
                "" if r.get("db_cpu_per_s") is None else f"{r['db_cpu_per_s']:.2f}",
                f"{r['rss_peak_mb']:.0f}",
                f"{r['load_1min']:.1f}",
            ]
        )
    headers = ["run", "c", "server", "events/s", "× floor", "drain s", "msgs/s", "lost/dup", "429s"]
    headers += ["urgent p50/p99 s", "other p50/p99 s", "cpu s/s", "db cpu s/s", "RSS MB", "load"]
    database = rows[0]["database"] if rows else "?"
    print(f"Ingest on {database}: servers, fakes and clients in their own processes")
    print(table(headers, body))


def _seconds(summary: dict[str, float] | None) -> str:
    """`p50/p99` in seconds of a summary in ms."""
    if summary is None:
        return ""
    return f"{summary['p50'] / 1000:.2f}/{summary['p99'] / 1000:.2f}"


def failures(rows: list[dict[str, Any]]) -> list[str]:
    """What broke exactly-once or refused an event, per cell."""
    problems = []
    for r in rows:
        where = f"run {r['run']} c={r['clients']} {r['server']}"
        if r["refused"]:
            problems.append(f"{where}: refused {r['refused']}")
        if r["server"] != "herald":
            continue
        for name in ("lost", "duplicated", "unexpected", "failed_posts"):
            if r[name]:
                problems.append(f"{where}: {r[name]} {name.replace('_', ' ')}")
        if r["drain_timed_out"]:
            problems.append(f"{where}: not drained in time")
    return problems


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> Path:
    name = "ingest_throughput" + (f"-{args.tag}" if args.tag else "")
    arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    data = {
        "benchmark": "ingest_throughput",
        "args": arguments,
        "messages_per_release": MESSAGES_PER_RELEASE + 1,  # + the superseded checkups' note
        "processes": "clients | fakes (FakeSlack + FakeArgoCD) | one per server",
        "rows": rows,
        "ok": not failures(rows),
    }
    return write_results(name, data)
