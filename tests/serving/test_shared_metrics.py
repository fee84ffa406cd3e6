"""The metric files of `herald serve --workers N`: what each process counted is in the sum the
server renders, a dead worker's counts stay in it once folded, and a killed server's files go
when the next one starts."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.observability import HeraldMetrics
from bot.serving.shared_metrics import PREFIX, MetricFiles, remove_stale, share_in_this_process
from bot.serving.supervisor import WorkerMetrics
from tests.metric_samples import Samples, samples_of, value

POST = {"method": "chat.postMessage"}
CHECKUPS = {"job_id": "herald-checkups"}


def count_in_a_worker(path: Path, calls: int, failures: int) -> None:
    """A worker's life: Slack calls (the first failed), job runs, a command answered."""
    share_in_this_process(path)
    metrics = HeraldMetrics(shared_dir=path)
    for call in range(calls):
        metrics.observe_slack_call("chat.postMessage", 0.2, ok=call > 0, error="ratelimited")
    metrics.job_added("herald-checkups", period_seconds=5)
    for _ in range(failures):
        metrics.job_failed("herald-checkups")
    metrics.job_succeeded("herald-checkups")
    metrics.command_done("answered")


def count_workers_up(path: Path, up: int) -> None:
    share_in_this_process(path)
    WorkerMetrics().up.set(up)


def run_process(target: Callable[..., None], *args: Any) -> int:
    """Run `target(*args)` in a spawned process to its end; the process's pid."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert process.pid is not None
    return process.pid


def run_worker(path: Path, *, calls: int, failures: int = 0) -> int:
    return run_process(count_in_a_worker, path, calls, failures)


def scrape(path: Path) -> Samples:
    text = HeraldMetrics(shared_dir=path).render(None).decode()
    return samples_of(text)


def test_the_server_renders_the_sum_of_its_workers(tmp_path: Path) -> None:
    run_worker(tmp_path, calls=3, failures=1)
    second_started = time.time()
    run_worker(tmp_path, calls=2, failures=0)
    samples = scrape(tmp_path)

    assert value(samples, "herald_slack_call_seconds_count", **POST) == 5
    assert value(samples, "herald_slack_call_seconds_bucket", **POST, le="0.25") == 5
    assert value(samples, "herald_slack_call_errors_total", **POST, error="ratelimited") == 2
    assert value(samples, "herald_job_failures_total", **CHECKUPS) == 1
    assert value(samples, "herald_job_period_seconds", **CHECKUPS) == 5
    last_success = value(samples, "herald_job_last_success_timestamp_seconds", **CHECKUPS)
    assert second_started <= last_success <= time.time()  # the later of the two
    assert value(samples, "herald_commands_total", outcome="answered") == 2
    assert value(samples, "herald_commands_total", outcome="failed") == 0


def test_a_dead_workers_counts_stay_in_the_sum_once_folded(tmp_path: Path) -> None:
    files = MetricFiles(tmp_path)
    first = run_worker(tmp_path, calls=3, failures=1)
    second = run_worker(tmp_path, calls=2, failures=2)
    before = scrape(tmp_path)

    files.fold_dead(first)
    files.fold_dead(second)

    assert scrape(tmp_path) == before
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == ["counter_folded.db", "gauge_max_folded.db", "histogram_folded.db"]

    run_worker(tmp_path, calls=4, failures=1)  # the replacement
    after = scrape(tmp_path)
    assert value(after, "herald_slack_call_seconds_count", **POST) == 9
    assert value(after, "herald_slack_call_seconds_sum", **POST) == pytest.approx(9 * 0.2)
    assert value(after, "herald_slack_call_seconds_bucket", **POST, le="0.1") == 0
    assert value(after, "herald_slack_call_errors_total", **POST, error="ratelimited") == 3
    assert value(after, "herald_job_failures_total", **CHECKUPS) == 4
    assert value(after, "herald_job_last_success_timestamp_seconds", **CHECKUPS) > value(
        before, "herald_job_last_success_timestamp_seconds", **CHECKUPS
    )
    assert value(after, "herald_commands_total", outcome="answered") == 3


def test_a_dead_processs_live_gauges_go_with_it(tmp_path: Path) -> None:
    gone = run_process(count_workers_up, tmp_path, 1)
    run_process(count_workers_up, tmp_path, 2)
    assert value(scrape(tmp_path), "herald_workers_up") == 3
    MetricFiles(tmp_path).fold_dead(gone)
    assert value(scrape(tmp_path), "herald_workers_up") == 2


def test_the_files_of_a_server_that_is_gone_are_removed_when_the_next_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "scratch").mkdir()
    gone = tmp_path / f"{PREFIX}{run_worker(tmp_path / 'scratch', calls=0)}-abc"  # exited
    gone.mkdir()
    (gone / "counter_1.db").write_bytes(b"")
    running = tmp_path / f"{PREFIX}{os.getppid()}-def"  # another server, still running
    running.mkdir()
    earlier = tmp_path / f"{PREFIX}{os.getpid()}-ghi"  # an earlier run with this pid (pid 1)
    earlier.mkdir()

    mine = MetricFiles.create(under=tmp_path)
    assert not gone.exists() and not earlier.exists()
    assert running.exists()
    assert mine.path.exists() and mine.path.name.startswith(f"{PREFIX}{os.getpid()}-")
    mine.remove()  # at shutdown
    assert not mine.path.exists()
    assert remove_stale(tmp_path) == []  # the other server's stay
