"""Accepted events per second on SQLite with delivery running.

N concurrent clients post manifests and lifecycle events as fast as Herald accepts them; each
client takes the next release from a shared counter and posts its five steps in order. The
outbox worker delivers to the Slack stand-in meanwhile. Reported per run (fresh Herald and
database each): accepted events/s, the time until the outbox is drained (every expected message
at the fake), delivered messages/s over that time, and a check that each expected message
arrived exactly once (exit status 1 if not).

Usage: python bench/ingest_throughput.py [--events 1000] [--clients 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from bench.harness import (
    EVENTS_PER_RELEASE,
    MESSAGES_PER_RELEASE,
    CallLog,
    herald_stack,
    maybe_profile,
    quiet_logging,
    release_steps,
    table,
    write_results,
)
from standins.slack import SlackCall

DRAIN_TIMEOUT = 120.0


async def measure(clients: int, releases: int) -> dict[str, Any]:
    async with herald_stack(poll_seconds=1.0, connections=clients) as stack:
        expected = releases * MESSAGES_PER_RELEASE
        posts: list[SlackCall] = []
        drained = asyncio.Event()

        def on_call(call: SlackCall) -> None:
            if call.method == "chat.postMessage":
                posts.append(call)
                if len(posts) >= expected:
                    drained.set()

        stack.slack.calls = CallLog(on_call)
        next_release = iter(range(releases))
        accepted = 0

        async def client() -> None:
            nonlocal accepted
            for index in next_release:
                for step in release_steps(f"c{clients}", index):
                    await stack.post(step)
                    accepted += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        ingested = time.monotonic() - started
        timed_out = False
        try:
            await asyncio.wait_for(drained.wait(), DRAIN_TIMEOUT)
        except TimeoutError:
            timed_out = True
        drain = time.monotonic() - started
        await asyncio.sleep(0.2)  # late duplicates would show up here
        open_rows = await stack.settle()
        return _report(clients, accepted, ingested, drain, posts, expected, open_rows, timed_out)


def _report(
    clients: int,
    accepted: int,
    ingested: float,
    drain: float,
    posts: list[SlackCall],
    expected: int,
    open_rows: int,
    timed_out: bool,
) -> dict[str, Any]:
    keys = Counter(
        (
            call.body.get("channel"),
            call.body["metadata"]["event_payload"]["id"],
            # events carry their type; notes (e.g. the release notes) their kind
            call.body["metadata"]["event_payload"].get("event")
            or call.body["metadata"]["event_type"],
        )
        for call in posts
    )
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    failed = sum(1 for call in posts if not call.ok)
    ok = (
        len(posts) == expected and duplicates == 0 and failed == 0 and open_rows == 0
    ) and not timed_out
    return {
        "clients": clients,
        "events": accepted,
        "ingest_s": ingested,
        "events_per_s": accepted / ingested,
        "drain_s": drain,
        "drain_after_ingest_s": drain - ingested,
        "messages": len(posts),
        "expected_messages": expected,
        "messages_per_s": len(posts) / drain,
        "duplicates": duplicates,
        "failed_posts": failed,
        "open_outbox_rows": open_rows,
        "drain_timed_out": timed_out,
        "ok": ok,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [
        (
            r["clients"],
            r["events"],
            r["events_per_s"],
            r["ingest_s"],
            r["drain_s"],
            r["messages_per_s"],
            f"{r['messages']}/{r['expected_messages']}",
            r["duplicates"],
            "ok" if r["ok"] else "FAIL",
        )
        for r in results
    ]
    print("Ingest throughput on SQLite, delivery running, FakeSlack answering normally")
    headers = ("clients", "events", "events/s", "ingest s", "drained s", "msgs/s", "msgs")
    print(table((*headers, "dups", "check"), rows))


async def run(
    events: int, clients: list[int], profile: str | None = None, *, tag: str = ""
) -> dict[str, Any]:
    quiet_logging()
    releases = max(1, events // EVENTS_PER_RELEASE)
    results = []
    with maybe_profile(profile):
        for count in clients:
            results.append(await measure(count, releases))
    print_table(results)
    data = {
        "benchmark": "ingest_throughput",
        "events_per_run": releases * EVENTS_PER_RELEASE,
        "messages_per_release": MESSAGES_PER_RELEASE,
        "delivery_poll_seconds": 1.0,
        "results": results,
        "ok": all(r["ok"] for r in results),
    }
    print(f"→ {write_results('ingest_throughput' + tag, data)}")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events per run (5 per release)")
    parser.add_argument(
        "--clients",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 8, 32],
        help="comma-separated client counts, one run each (default 1,8,32)",
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the run, dump stats to FILE")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = await run(args.events, args.clients, args.profile)
    if not data["ok"]:
        print("FAIL: messages at the fake differ from the expected set", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
