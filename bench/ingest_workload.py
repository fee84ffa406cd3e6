"""The ingest benchmark's workload: releases spread over services, the clients that post
them, and the messages FakeSlack must get for them, each exactly once.

Each client takes the next release from a shared counter and posts its five steps in order
(bench/harness.py release_steps: the manifest, then started, deployed, failed and
rolled_back) to one server: release i to server i mod the number of servers. Release i is
of service i mod `services`; a client holds its service's lock while posting it, so the
releases of one service are never in flight together: each deploy supersedes the pending
checkups of exactly the service's release before it, whose "checkups cancelled" note is
then one more expected message (the order of releases within a service is recorded).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.harness import release_steps, summary_ms
from bench.processes import FEED, INGEST_TOKEN, OPS, PostKey

FEED_ROOTS = ("release.planned", "release.started", "release.deployed")
URGENT = ("release.failed", "release.rolled_back")  # posted first in their channels
NOTE = "herald_note"  # a superseded release's checkups were cancelled
RELEASE_NOTES = "herald_release_notes"  # in the feed thread, on deployed


@dataclass(frozen=True)
class Workload:
    releases: int
    services: int
    channels_per_service: bool = False

    def service(self, index: int) -> str:
        return f"svc{index % self.services:04d}"

    def channels(self, service: str) -> tuple[str, str]:
        """(feed, ops) channel ids of a service."""
        if not self.channels_per_service:
            return FEED, OPS
        number = int(service.removeprefix("svc"))
        return f"C0SVC{2 * number + 1:04d}", f"C0SVC{2 * number + 2:04d}"

    def ops_channels(self) -> set[str]:
        return {self.channels(self.service(n))[1] for n in range(self.services)}

    def all_channels(self) -> list[str]:
        """The per-service channels FakeSlack must know (beside the feed and ops)."""
        if not self.channels_per_service:
            return []
        return [c for n in range(self.services) for c in self.channels(self.service(n))]

    def write_catalog(self, path: Path) -> Path:
        """The catalog YAML: every service, with `channels: {feed, ops}` if asked."""
        services: dict[str, Any] = {}
        for n in range(min(self.services, self.releases)):
            name = self.service(n)
            services[name] = {"owners": ["U0OWNER"]}
            if self.channels_per_service:
                feed, ops = self.channels(name)
                services[name]["channels"] = {"feed": feed, "ops": ops}
        path.write_text(yaml.safe_dump({"services": services}))
        return path


@dataclass
class Offer:
    """What the clients posted and what the servers answered."""

    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    accepted_at: dict[tuple[str, str], float] = field(default_factory=dict)  # monotonic
    order: dict[str, list[str]] = field(default_factory=dict)  # service → release ids


async def offer(urls: list[str], workload: Workload, *, clients: int, run: str) -> Offer:
    """Every release of the workload, posted by `clients` clients over `urls`."""
    done = Offer()
    locks = {workload.service(n): asyncio.Lock() for n in range(workload.services)}
    todo = iter(range(workload.releases))
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    connector = aiohttp.TCPConnector(limit=clients)

    async def client(session: aiohttp.ClientSession) -> None:
        for index in todo:
            service, url = workload.service(index), urls[index % len(urls)]
            async with locks[service]:
                steps = release_steps(run, index, service=service)
                done.order.setdefault(service, []).append(steps[0].release_id)
                for step in steps:
                    async with session.post(url + step.path, json=step.body) as response:
                        await response.read()
                        if response.status // 100 != 2:
                            done.refused[str(response.status)] += 1
                            continue
                        done.accepted += 1
                        done.accepted_at[(step.release_id, step.event)] = time.monotonic()

    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        done.seconds = time.monotonic() - started
    return done


def expected_posts(workload: Workload, order: dict[str, list[str]]) -> set[PostKey]:
    """Eight messages a release (six in the feed, two in ops) and the note of each release
    a later one of its service superseded."""
    keys: set[PostKey] = set()
    for service, releases in order.items():
        feed, ops = workload.channels(service)
        for n, rid in enumerate(releases):
            keys |= {(feed, "root", rid, event) for event in FEED_ROOTS + URGENT}
            keys |= {(feed, "thread", rid, RELEASE_NOTES), (ops, "root", rid, URGENT[0])}
            keys.add((ops, "thread", rid, URGENT[1]))
            if n < len(releases) - 1:
                keys.add((ops, "thread", rid, NOTE))
    return keys


@dataclass
class Arrivals:
    """chat.postMessage calls at FakeSlack, counted per key, with each key's first arrival."""

    counts: Counter[PostKey] = field(default_factory=Counter)
    first_at: dict[PostKey, float] = field(default_factory=dict)  # monotonic
    refused: int = 0  # chat.postMessage calls FakeSlack refused, 429s included
    throttled: int = 0  # of which 429 for the channel's rate limit (Herald waits and resends)

    @property
    def failed(self) -> int:
        """Refused for anything but the rate limit: what must not happen."""
        return self.refused - self.throttled

    def add(self, stats: dict[str, Any]) -> None:
        for key, at in stats["posts"]:
            key = tuple(key)
            self.counts[key] += 1
            self.first_at.setdefault(key, at)
        self.refused += stats["refused_posts"]
        self.throttled += stats["throttled"]


def exactly_once(expected: set[PostKey], arrived: Arrivals) -> dict[str, int]:
    """lost = expected - distinct arrived; duplicated = arrivals beyond one per key."""
    return {
        "expected": len(expected),
        "arrived": sum(arrived.counts.values()),
        "lost": len(expected - arrived.counts.keys()),
        "duplicated": sum(n - 1 for n in arrived.counts.values() if n > 1),
        "unexpected": len(arrived.counts.keys() - expected),
        "failed_posts": arrived.failed,
        "throttled": arrived.throttled,
    }


def delivery_ms(offered: Offer, arrived: Arrivals, *, ops: set[str]) -> dict[str, dict[str, float]]:
    """Accepted (the client read the 2xx) → first arrival at FakeSlack: urgent messages
    (failed, rolled back) and the rest, then feed and ops channels apart; the notes of
    superseded checkups are left out."""
    waits: dict[str, list[float]] = {}
    for (channel, _, rid, kind), at in arrived.first_at.items():
        cause = "release.deployed" if kind == RELEASE_NOTES else kind
        if (accepted := offered.accepted_at.get((rid, cause))) is None:
            continue
        urgency = "urgent" if kind in URGENT else "other"
        where = "ops" if channel in ops else "feed"
        for name in (urgency, f"{where} {urgency}"):
            waits.setdefault(name, []).append(at - accepted)
    return {name: summary_ms(values) for name, values in sorted(waits.items())}
