"""Event accepted → first Slack call: p50/p99 over 1,000 events against the Slack stand-in.

One client posts manifests and lifecycle events one at a time (never two in flight). For each
accepted event: t_accepted is when the client has read the 201; the event's first Slack call is
the first chat.postMessage whose metadata names that release and event type, and its time is
when FakeSlack received it. latency = call arrival - t_accepted; it can be slightly negative
when the post reaches the fake before the client has read Herald's response.

Two pacings, each on a fresh Herald and database:
  idle          the next POST waits until every message of the previous event is at the fake:
                pure ingest → Slack latency, as for CI posting now and then.
  back-to-back  the next POST goes as soon as the 201 is read: one request in flight, but the
                outbox worker may still be busy with the previous event.

Usage: python bench/ingest_latency.py [--releases 200] [--mode idle|back-to-back|both]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.harness import (
    EVENTS_PER_RELEASE,
    MESSAGES_PER_EVENT,
    MESSAGES_PER_RELEASE,
    CallLog,
    Stack,
    call_key,
    herald_stack,
    maybe_profile,
    quiet_logging,
    release_steps,
    summary_ms,
    table,
    write_results,
)
from standins.slack import SlackCall

MODES = ("idle", "back-to-back")
WARMUP_RELEASES = 5
SETTLE_TIMEOUT = 10.0


@dataclass
class Tracker:
    """First arrival per (release id, event type) and a count of posts, fed by FakeSlack."""

    first_at: dict[tuple[str, str], float] = field(default_factory=dict)
    posts: int = 0
    target: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def on_call(self, call: SlackCall) -> None:
        key = call_key(call)
        if key is None:
            return
        self.posts += 1
        self.first_at.setdefault(key, call.at)
        if self.posts >= self.target:
            self.reached.set()

    async def wait_for(self, posts: int, within: float) -> None:
        self.target = posts
        if self.posts >= posts:
            return
        self.reached.clear()
        try:
            await asyncio.wait_for(self.reached.wait(), within)
        except TimeoutError:
            raise RuntimeError(
                f"only {self.posts} of {posts} Slack posts arrived within {within}s"
            ) from None


async def measure(mode: str, releases: int) -> dict[str, Any]:
    async with herald_stack(poll_seconds=1.0, connections=1) as stack:
        tracker = Tracker()
        stack.slack.calls = CallLog(tracker.on_call)
        expected = 0

        async def play(run: str, count: int) -> list[tuple[str, str, float, float]]:
            nonlocal expected
            records = []
            for index in range(count):
                for step in release_steps(run, index):
                    sent, accepted = await stack.post(step)
                    records.append((step.release_id, step.event, sent, accepted))
                    expected += MESSAGES_PER_EVENT[step.event]
                    if mode == "idle":
                        await tracker.wait_for(expected, SETTLE_TIMEOUT)
            await tracker.wait_for(expected, SETTLE_TIMEOUT + count)
            return records

        await play("warmup", WARMUP_RELEASES)
        started = time.monotonic()
        records = await play(mode, releases)
        elapsed = time.monotonic() - started
        await stack.settle()
        return _report(mode, stack, tracker, records, elapsed, releases)


def _report(
    mode: str,
    stack: Stack,
    tracker: Tracker,
    records: list[tuple[str, str, float, float]],
    elapsed: float,
    releases: int,
) -> dict[str, Any]:
    latency, from_send, round_trip = [], [], []
    for release_id, event, sent, accepted in records:
        at = tracker.first_at.get((release_id, event))
        if at is None:
            raise RuntimeError(f"no Slack post for {event} of {release_id}")
        latency.append(at - accepted)
        from_send.append(at - sent)
        round_trip.append(accepted - sent)
    posts = sum(1 for c in stack.slack.calls if c.method == "chat.postMessage")
    expected = (releases + WARMUP_RELEASES) * MESSAGES_PER_RELEASE
    if posts != expected:
        raise RuntimeError(f"{posts} Slack posts, expected {expected}")
    return {
        "mode": mode,
        "events": len(records),
        "elapsed_s": elapsed,
        "accepted_to_first_call_ms": summary_ms(latency),
        "sent_to_first_call_ms": summary_ms(from_send),
        "post_round_trip_ms": summary_ms(round_trip),
        "over_500ms": sum(1 for v in latency if v > 0.5),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        for label, key in (
            ("accepted → first call", "accepted_to_first_call_ms"),
            ("sent → first call", "sent_to_first_call_ms"),
            ("POST round trip", "post_round_trip_ms"),
        ):
            s = r[key]
            rows.append((r["mode"], label, s["n"], s["p50"], s["p90"], s["p99"], s["max"]))
    print("Ingest latency (ms), one request in flight, FakeSlack answering normally")
    print(table(("pacing", "measure", "n", "p50", "p90", "p99", "max"), rows))
    for r in results:
        if r["over_500ms"]:
            print(f"  {r['mode']}: {r['over_500ms']} events waited > 500 ms for their first post")


async def run(
    releases: int, modes: list[str], profile: str | None = None, *, tag: str = ""
) -> dict[str, Any]:
    quiet_logging()
    results = []
    with maybe_profile(profile):
        for mode in modes:
            results.append(await measure(mode, releases))
    print_table(results)
    data = {
        "benchmark": "ingest_latency",
        "releases": releases,
        "events_per_release": EVENTS_PER_RELEASE,
        "delivery_poll_seconds": 1.0,
        "results": results,
    }
    print(f"→ {write_results('ingest_latency' + tag, data)}")
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--releases", type=int, default=200, help="releases per pacing (5 events each)"
    )
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the run, dump stats to FILE")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = list(MODES) if args.mode == "both" else [args.mode]
    await run(args.releases, modes, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
