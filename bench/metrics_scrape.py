"""What reading the workers' metric files costs a `/metrics` scrape of `herald serve --workers N`.

With workers, the server renders its process-local metrics from the files every process
writes (bot/serving/shared_metrics.py) instead of from objects in its memory. Measured: the
render of those metrics (`HeraldMetrics.render` without a store snapshot, which is the same
either way) for the server plus 1 and plus 4 workers' files, each file written by a real
spawned process, against the one-process render of the same series (the floor, in this
process). A worker's series are a busy day's: Slack calls on 6 methods (10-bucket histogram)
with errors on 2, 10 scheduled jobs, the command outcomes, inbox duplicates, pruned rows. The
4-worker directory also holds the folded files of 4 workers that died and were replaced.

Each run renders every case `--renders` times, interleaved; p50 per case and its ratio to the
floor's p50 of the same run. The 1-min load is printed with each run.

Usage: python bench/metrics_scrape.py [--renders 200] [--runs 3] [--tag -quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.harness import summary_ms, table, write_results
from bot.observability import COMMAND_OUTCOMES, HeraldMetrics

METHODS = (
    "chat.postMessage",
    "chat.update",
    "chat.getPermalink",
    "conversations.info",
    "users.lookupByEmail",
    "files.uploadV2",
)
JOBS = tuple(f"herald-job-{n}" for n in range(10))


def populate(metrics: HeraldMetrics, *, seed: int) -> None:
    """The series a worker has after a busy day (the values do not change the render's cost)."""
    for n, method in enumerate(METHODS):
        for call in range(50):
            metrics.observe_slack_call(method, 0.01 * (call % 40 + seed), ok=True)
        if n < 2:
            metrics.observe_slack_call(method, 1.0, ok=False, error="ratelimited")
            metrics.observe_slack_call(method, 5.0, ok=False, error="TimeoutError")
    for job in JOBS:
        metrics.job_added(job, period_seconds=30)
        metrics.job_succeeded(job)
    metrics.job_failed(JOBS[0])
    for outcome in COMMAND_OUTCOMES:
        metrics.command_done(outcome)
    metrics.inbox_duplicate("slack")
    metrics.rows_pruned("inbox", 10)


def write_as_a_process(path: Path, seed: int) -> None:
    """A spawned process's life: its series, written to the files under `path`."""
    from bot.serving.shared_metrics import share_in_this_process

    share_in_this_process(path)
    populate(HeraldMetrics(shared_dir=path), seed=seed)


def write_files(path: Path, *, workers: int, folded: int) -> None:
    """The server's and `workers` live workers' files; `folded` dead ones folded in."""
    from bot.serving.shared_metrics import MetricFiles

    files = MetricFiles(path)
    context = multiprocessing.get_context("spawn")
    for seed in range(1 + workers + folded):
        process = context.Process(target=write_as_a_process, args=(path, seed))
        process.start()
        process.join(60)
        if process.exitcode != 0 or process.pid is None:
            raise RuntimeError(f"the writing process exited {process.exitcode}")
        if seed > workers:  # died and was replaced
            files.fold_dead(process.pid)


def timed(render: Callable[[], bytes]) -> float:
    started = time.perf_counter()
    render()
    return time.perf_counter() - started


def measure(cases: dict[str, HeraldMetrics], *, renders: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(renders):
        for name, metrics in cases.items():
            times[name].append(timed(partial(metrics.render, None)))
    return {name: summary_ms(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    floor = HeraldMetrics()
    populate(floor, seed=0)
    with tempfile.TemporaryDirectory(prefix="herald-bench-metrics-") as scratch:
        one, four = Path(scratch, "one"), Path(scratch, "four")
        one.mkdir()
        four.mkdir()
        write_files(one, workers=1, folded=0)
        write_files(four, workers=4, folded=4)
        cases = {
            "one process (floor)": floor,
            "server + 1 worker": HeraldMetrics(shared_dir=one),
            "server + 4 workers (+4 folded)": HeraldMetrics(shared_dir=four),
        }
        sizes = {name: len(metrics.render(None)) for name, metrics in cases.items()}
        runs: list[dict[str, Any]] = []
        for run in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            result = measure(cases, renders=args.renders)
            base = result["one process (floor)"]["p50"]
            rows = [
                [name, sizes[name], r["p50"], r["p90"], r["p50"] / base]
                for name, r in result.items()
            ]
            print(f"\nrun {run} (1-min load {load:.1f}), {args.renders} renders each")
            print(table(["case", "bytes", "p50 ms", "p90 ms", "x floor"], rows))
            runs.append({"run": run, "load": load, "cases": result})
    path = write_results(f"metrics_scrape{args.tag}", {"renders": args.renders, "runs": runs})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
