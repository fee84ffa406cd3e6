"""The game day, timed: a real spike through real Prometheus and Alertmanager to a real
`herald serve`, against the floor measured in the same run.

Each run starts a fresh world (`tests/gameday/world.py`, the same one the game-day test
plays): a synthetic service scraped every second by a real Prometheus (1 s rule evaluation,
the harness's fast spike rule), a real Alertmanager (1 s group_wait / group_interval)
notifying both Herald's `/hooks/alertmanager` and a bare webhook receiver (two routes with
`continue: true`), the Slack, PagerDuty and Argo CD stand-ins, and `herald serve` as a
subprocess on SQLite, configured through its environment and catalogue only. Once traffic
flows, CI deploys `webapp` through the HTTP API; then its error ratio jumps from 1 % to 20 %.
When Herald's rollback lands at the Argo CD stand-in, the service is healthy again.

Per run, in seconds and as a ratio to the floor:
- **floor**: spike → the alert at the bare receiver (what any receiver behind this
  Alertmanager could do at best);
- **page**: spike → the trigger at the PagerDuty stand-in (goal: ≤ floor + 1 s);
- **rollback**: spike → the rollback at the Argo CD stand-in (goal: ≤ 30 s);
- **first verdict**: deploy → the early watch's first message in the feed thread (goal:
  ≤ 60 s) and **recovered**: spike → `release.recovered` in the feed (goal: ≤ 2 min). The run
  waits for each, up to its goal (`--no-watch` skips both: "—").
- the cost of the run: `herald serve`'s CPU seconds and the Prometheus queries it made,
  from the deploy to the end of the run (one release watched); and how many releases one
  Herald can watch at once keeping the re-judge cadence (needs the watch: "—").

Usage: python bench/gameday.py [--runs 3] [--spike 0.2] [--no-watch]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import quiet_logging, table, write_results
from tests.gameday.timeline import Timeline
from tests.gameday.world import GameDay
from tests.harness.alertmanager import find_alertmanager
from tests.harness.prometheus import find_prometheus

GOALS = {  # seconds; the page's is over the floor of the same run
    "first_verdict": 60.0,
    "page_over_floor": 1.0,
    "rollback": 30.0,
    "recovered": 120.0,
}
CADENCE_S = 30.0  # the re-judge cadence a watched release must keep
BASELINE_S = 2.0  # rule evaluations of the 1 % baseline before the deploy
SETTLE_S = 5.0  # after the rollback: the resolved alert and the last thread notes
COLUMNS = [  # (header, key of a run's figures)
    ("floor s", "floor_s"),
    ("page s", "page_s"),
    ("×floor", "page_x_floor"),
    ("rollback s", "rollback_s"),
    ("×floor", "rollback_x_floor"),
    ("1st verdict s", "first_verdict_s"),
    ("recovered s", "recovered_s"),
    ("Herald CPU s", "herald_cpu_s"),
    ("Prom queries", "prometheus_queries"),
]
_QUERIES = re.compile(
    r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query(?:_range)?"[^}]*\} (\S+)$',
    re.MULTILINE,
)


# -- what the watch will fill ------------------------------------------------------------------


def deploy_to_first_verdict(timeline: Timeline) -> float | None:
    """Deploy → the early watch's first message in the feed thread; None until the watch
    posts one."""
    return timeline.between("deployed", "first_verdict")


def spike_to_recovered(timeline: Timeline) -> float | None:
    """Spike → `release.recovered` in the feed; None until the watch confirms recovery."""
    return timeline.between("spiked", "recovered")


def releases_watched_at_cadence() -> int | None:
    """How many releases one Herald watches at once while re-judging each every
    `CADENCE_S`: None until there is a watch to load."""
    return None


# -- one run -----------------------------------------------------------------------------------


async def prometheus_queries(world: GameDay) -> int:
    """Instant and range queries Prometheus has answered so far (its own counter)."""
    assert world.chain is not None
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{world.chain.prometheus.url}/metrics") as resp,
    ):
        text = await resp.text()
    return sum(int(float(value)) for value in _QUERIES.findall(text))


async def play(world: GameDay, *, spike: float, wait_for_watch: bool) -> dict[str, Any]:
    await world.traffic_flows()
    await asyncio.sleep(BASELINE_S)
    queries, cpu, started = (
        await prometheus_queries(world),
        world.herald.cpu_seconds(),
        time.monotonic(),
    )
    await world.deploy()
    if wait_for_watch:
        await _wait_for(world, "first_verdict", since="deployed", within=GOALS["first_verdict"])
    world.spike(spike)
    await world.wait(lambda: _seen(world.timeline()), timeout=60, what="alert, page and rollback")
    if wait_for_watch:
        await _wait_for(world, "recovered", since="spiked", within=GOALS["recovered"])
    await asyncio.sleep(SETTLE_S)
    timeline = world.timeline()
    wall = time.monotonic() - started
    return {
        **figures(timeline),
        "herald_cpu_s": round(world.herald.cpu_seconds() - cpu, 3),
        "prometheus_queries": await prometheus_queries(world) - queries,
        "measured_s": round(wall, 1),
        "releases_watched": 1,
        "story": story(timeline),
    }


def figures(timeline: Timeline) -> dict[str, Any]:
    floor = timeline.between("spiked", "alerted")
    seconds = {
        "floor": floor,
        "page": timeline.between("spiked", "paged"),
        "rollback": timeline.between("spiked", "rolled_back"),
        "first_verdict": deploy_to_first_verdict(timeline),
        "recovered": spike_to_recovered(timeline),
    }
    out: dict[str, Any] = {f"{k}_s": _round(v) for k, v in seconds.items()}
    for name, value in seconds.items():
        ratio = None if value is None or not floor else value / floor
        out[f"{name}_x_floor"] = _round(ratio)
    return out


def story(timeline: Timeline) -> list[dict[str, Any]]:
    """What happened, in seconds after the spike: the world's moments and every message."""
    start = timeline.spiked or 0.0
    moments = ["deployed", "spiked", "alerted", "paged", "rolled_back", "healed"]
    told = [
        {"t": _round(at - start), "what": name}
        for name in moments
        if (at := getattr(timeline, name)) is not None
    ]
    told += [
        {
            "t": _round(m.at - start),
            "what": f"{m.channel}{' thread' if m.thread_ts else ''}: "
            + m.text.split("\n", 1)[0][:120],
        }
        for m in timeline.messages
    ]
    return sorted(told, key=lambda row: row["t"])


async def _wait_for(world: GameDay, moment: str, *, since: str, within: float) -> None:
    begun = getattr(world.timeline(), since)
    left = begun + within - time.monotonic()
    try:
        await world.wait(
            lambda: getattr(world.timeline(), moment) is not None, timeout=max(left, 0)
        )
    except AssertionError:
        print(f"  {moment}: not within {within:g} s of {since}")


def _seen(timeline: Timeline) -> bool:
    return None not in (timeline.alerted, timeline.paged, timeline.rolled_back)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- the whole benchmark -----------------------------------------------------------------------


def print_table(runs: list[dict[str, Any]]) -> None:
    headers = ["run", *(header for header, _ in COLUMNS)]
    rows = [[n + 1, *(_cell(r.get(key)) for _, key in COLUMNS)] for n, r in enumerate(runs)]
    print(table(headers, rows))


def _cell(value: object) -> object:
    return "—" if value is None else value


def goals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each goal against the worst run: met, missed, or None while not measured."""

    def worst(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return max(values) if len(values) == len(runs) and values else None

    over = [r["page_s"] - r["floor_s"] for r in runs if r["page_s"] is not None and r["floor_s"]]
    measured = {
        "first_verdict": worst("first_verdict_s"),
        "page_over_floor": round(max(over), 3) if over and len(over) == len(runs) else None,
        "rollback": worst("rollback_s"),
        "recovered": worst("recovered_s"),
    }
    return {
        name: {
            "goal_s": GOALS[name],
            "worst_s": value,
            "met": None if value is None else value <= GOALS[name],
        }
        for name, value in measured.items()
    }


async def run(
    runs: int = 3, *, spike: float = 0.2, wait_for_watch: bool = True, tag: str = ""
) -> dict[str, Any]:
    quiet_logging()
    results = []
    for n in range(runs):
        with tempfile.TemporaryDirectory(prefix="herald-gameday-") as tmp:
            async with GameDay(base=Path(tmp), release_id=f"rel-gameday-{n + 1}") as world:
                results.append(await play(world, spike=spike, wait_for_watch=wait_for_watch))
        print(f"run {n + 1}/{runs}: spike → page {results[-1]['page_s']} s")
    print_table(results)
    verdict = goals(results)
    for name, goal in verdict.items():
        said = "—" if goal["met"] is None else ("met" if goal["met"] else "MISSED")
        print(f"goal {name} ≤ {goal['goal_s']:g} s: worst {goal['worst_s'] or '—'} → {said}")
    capacity = releases_watched_at_cadence()
    print(f"releases one Herald watches at a {CADENCE_S:g} s cadence: {capacity or '—'}")
    data = {
        "benchmark": "gameday",
        "spike_error_ratio": spike,
        "runs": results,
        "goals": verdict,
        "releases_watched_at_cadence": capacity,
        "ok": all(g["met"] is not False for g in verdict.values()),
    }
    print(f"→ {write_results('gameday' + tag, data)}")
    return data


def missing_binaries() -> str | None:
    if find_prometheus() is None or find_alertmanager() is None:
        return "needs the prometheus, promtool and alertmanager binaries (scripts/ensure-services)"
    return None


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh worlds, one after another")
    parser.add_argument("--spike", type=float, default=0.2, help="error ratio of the spike")
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="spike at once, without waiting for the early watch's first verdict and recovery",
    )
    args = parser.parse_args(argv)
    if (why := missing_binaries()) is not None:
        print(f"gameday: {why}", file=sys.stderr)
        return 1
    data = await run(args.runs, spike=args.spike, wait_for_watch=not args.no_watch)
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
