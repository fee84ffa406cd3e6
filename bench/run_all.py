"""Run every Herald benchmark and print its table; `--quick` for a smoke test with tiny sizes.

Results are also written as JSON to bench/results/<name>.json. Exit status 1 when a benchmark's
own check fails (lost or duplicated Slack messages).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from bench import (
    ack_latency,
    checkups,
    dora,
    gameday,
    gate,
    ingest_latency,
    ingest_throughput,
    slack_backoff,
    startup,
    storm,
    watch_capacity,
)


@dataclass(frozen=True)
class Sizes:
    latency_releases: int  # per pacing; 5 events each
    throughput_events: int  # per client count
    clients: list[int]
    ack_requests: int  # per server and concurrency
    ack_concurrency: list[int]
    dora_releases: int  # stored releases, on SQLite and (when available) PostgreSQL
    dora_repeat: int  # timed calls after the cold one
    checkup_releases: int  # +15m checkups due at once
    gameday_runs: int  # fresh game-day worlds (real Prometheus and Alertmanager)
    watch_ladder: list[int]  # watched releases at 30 s, one run each
    watch_ladder_15s: list[int]  # and at the default 15 s
    watch_seconds: float  # measured wall time per run
    backoff_channels: int  # slack_backoff: channels, messages in each, runs of 3 scenarios
    backoff_messages: int
    backoff_runs: int
    startup_runs: int  # start-up times and idle memory: runs, and each command's runs in one
    startup_n: int
    storm_args: list[str]  # bench/storm.py's arguments


DEFAULT = Sizes(
    latency_releases=200,
    throughput_events=1000,
    clients=[1, 32],
    ack_requests=500,
    ack_concurrency=[1, 10, 50],
    dora_releases=1_000_000,
    dora_repeat=5,
    checkup_releases=1000,
    gameday_runs=3,
    watch_ladder=[100, 200, 400, 600],
    watch_ladder_15s=[200],
    watch_seconds=60.0,
    backoff_channels=8,
    backoff_messages=10,
    backoff_runs=3,
    startup_runs=3,
    startup_n=10,
    storm_args=[],
)
QUICK = Sizes(
    latency_releases=4,
    throughput_events=40,
    clients=[1, 4],
    ack_requests=20,
    ack_concurrency=[1, 10],
    dora_releases=20_000,
    dora_repeat=1,
    checkup_releases=50,
    gameday_runs=1,
    watch_ladder=[20],
    watch_ladder_15s=[20],
    watch_seconds=40.0,
    backoff_channels=2,
    backoff_messages=3,
    backoff_runs=1,
    startup_runs=1,
    startup_n=2,
    storm_args=["--seconds", "2", "--rate", "50", "--runs", "1"],
)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds each")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEFAULT
    tag = "-quick" if args.quick else ""  # a smoke test keeps the real results
    status = 0
    started = time.monotonic()

    print("== ingest_latency ==")
    await ingest_latency.run(sizes.latency_releases, list(ingest_latency.MODES), tag=tag)

    print("\n== ingest_throughput ==")
    data = await ingest_throughput.run(sizes.throughput_events, sizes.clients, tag=tag)
    if not data["ok"]:
        print("FAIL: ingest_throughput: messages at the fake differ from the expected set")
        status = 1

    print("\n== ack_latency ==")
    await ack_latency.run(sizes.ack_requests, sizes.ack_concurrency, tag=tag)

    print("\n== slack_backoff ==")
    data = await slack_backoff.run(
        channels=sizes.backoff_channels,
        messages=sizes.backoff_messages,
        runs=sizes.backoff_runs,
        tag=tag,
    )
    if not data["ok"]:
        print("FAIL: slack_backoff: a message lost, doubled or left, or late after the burst")
        status = 1

    print("\n== storm ==")
    await storm.run(storm.parse_args([*sizes.storm_args, "--tag", tag.removeprefix("-")]))

    print("\n== startup ==")
    data = await startup.run(sizes.startup_runs, sizes.startup_n, tag=tag)
    if not data["ok"]:
        print("FAIL: startup: a command took 300 ms or more, or herald serve 100 MB or more")
        status = 1

    print("\n== dora ==")
    data = await dora.run(sizes.dora_releases, repeat=sizes.dora_repeat, tag=tag)
    if not data["ok"]:
        print("FAIL: dora: SQL differs from the pure computation, or SQLite from PostgreSQL")
        status = 1

    print("\n== checkups ==")
    data = await checkups.run(sizes.checkup_releases, tag=tag)
    if not data["ok"]:
        print("FAIL: checkups: reports or pages at the fakes differ from the expected set")
        status = 1

    print("\n== gameday ==")
    if (why := gameday.missing_binaries()) is not None:
        print(f"skipped: {why}")
    else:
        data = await gameday.run(sizes.gameday_runs, tag=tag)
        if not data["ok"]:
            print("FAIL: gameday: a goal was missed")
            status = 1

    print("\n== watch_capacity ==")
    await watch_capacity.run(
        sizes.watch_ladder,
        ladder_15s=sizes.watch_ladder_15s,
        headline=sizes.watch_ladder[-1],
        runs=1,  # the script alone repeats its headline N (--runs 3)
        seconds=sizes.watch_seconds,
        latency=0.03,
        tag=tag,
    )

    print("\n== gate ==")
    quick = ["--releases", "300", "--requests", "30", "--runs", "1"] if args.quick else []
    await gate.main([*quick, f"--tag={tag}"])

    print(f"\nAll benchmarks done in {time.monotonic() - started:.0f}s.")
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
