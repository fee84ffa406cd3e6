"""Herald's Prometheus metrics: one registry per app, no global state.

Two kinds of figures share the registry:

- Release and store figures (`release_*`, `herald_outbox_*`, `herald_checkups*`,
  `herald_release_verdict`) are read from the database at scrape time. Several replicas
  serve `/metrics` and Herald restarts, so counters kept in the process would be counted once
  per replica and reset on every restart; database totals are the same on every replica and
  survive restarts. The collector is synchronous (prometheus-client) while the database is
  async, so the `/metrics` handler awaits a `MetricsSnapshot` first (cached for
  `snapshot_ttl_seconds`, so a burst of scrapes costs one round of queries) and then renders
  it; `collect()` never touches the database.
- Process-local health (`herald_slack_call_*`, `herald_inbox_duplicates_total`,
  `herald_commands_total`, `herald_job_*`) is kept in ordinary prometheus-client objects:
  each replica counts its own calls, so dashboards `sum` these across replicas. With
  `herald serve --workers N` (`shared_dir`), every process of the replica writes them to
  files in one directory and the server's `/metrics` shows their sum
  (bot/serving/shared_metrics.py); each gauge says how its processes' values combine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from bot.snapshot_families import SnapshotCollector
from bot.store.metrics_snapshot import MetricsSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SLACK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# how a kept /deploy command or button press ended (bot/slack/tasks.py, command_queue.py)
COMMAND_OUTCOMES = ("answered", "late", "failed", "too_late", "given_up")
_MAX_LABEL = 64


def _label(value: str) -> str:
    """Label values from the outside world stay short (and so does the series count)."""
    return (value or "unknown")[:_MAX_LABEL]


class HeraldMetrics:
    """The app's metrics registry: process-local health, plus the store snapshot it renders.
    With `shared_dir` (this process writes its values there, see `share_in_this_process`),
    the registry renders what every process wrote there instead of this one's objects."""

    def __init__(
        self, *, snapshot_ttl_seconds: float = 10.0, shared_dir: Path | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot_ttl_seconds = snapshot_ttl_seconds
        self._store = SnapshotCollector()
        self.registry.register(self._store)
        own = self.registry if shared_dir is None else None
        if shared_dir is not None:
            MultiProcessCollector(self.registry, path=str(shared_dir))
        self._build_health(own)
        self._cached: tuple[float, MetricsSnapshot] | None = None
        self._lock = asyncio.Lock()

    def _build_health(self, registry: CollectorRegistry | None) -> None:
        self._build_calls(registry)
        self._build_jobs_and_scrapes(registry)

    def _build_calls(self, registry: CollectorRegistry | None) -> None:
        self._slack_seconds = Histogram(
            "herald_slack_call_seconds",
            "Slack Web API calls by method, in seconds, failed ones included.",
            ["method"],
            buckets=SLACK_BUCKETS,
            registry=registry,
        )
        self._slack_errors = Counter(
            "herald_slack_call_errors_total",
            "Slack Web API calls that failed, by method and Slack error (or exception).",
            ["method", "error"],
            registry=registry,
        )
        self._inbox_duplicates = Counter(
            "herald_inbox_duplicates_total",
            "Inbound requests recognised by their inbox key and dropped, by source.",
            ["source"],
            registry=registry,
        )
        self._rows_pruned = Counter(
            "herald_retention_pruned_rows_total",
            "Rows the retention job deleted, by table (inbox, outbox).",
            ["table"],
            registry=registry,
        )
        self._commands = Counter(
            "herald_commands_total",
            "Kept /deploy commands and button presses whose work ended, by outcome: answered, "
            "late (answered after its process died), failed (an internal error was shown), "
            "too_late (not carried out, over 10 min after the ack), given_up (its process died "
            "twice carrying it out).",
            ["outcome"],
            registry=registry,
        )
        for outcome in COMMAND_OUTCOMES:
            self._commands.labels(outcome)

    def _build_jobs_and_scrapes(self, registry: CollectorRegistry | None) -> None:
        self._snapshot_seconds = Gauge(
            "herald_metrics_snapshot_seconds",
            "How long the last scrape-time store query took.",
            registry=registry,
            multiprocess_mode="livemostrecent",  # only the server scrapes
        )
        self._snapshot_ok = Gauge(
            "herald_metrics_snapshot_ok",
            "1 when the last scrape-time store query succeeded, else 0.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self._job_period = Gauge(
            "herald_job_period_seconds",
            "How often each scheduled job runs, in seconds (a week for the weekly report).",
            ["job_id"],  # not `job`: Prometheus gives every target a `job` label of its own
            registry=registry,
            multiprocess_mode="max",  # the same in every worker; kept when one dies
        )
        self._job_success = Gauge(
            "herald_job_last_success_timestamp_seconds",
            "When each scheduled job last completed without raising (Unix time, this replica; "
            "the time it was scheduled until its first run completes).",
            ["job_id"],
            registry=registry,
            multiprocess_mode="max",  # the latest success in any of the replica's processes
        )
        self._job_failures = Counter(
            "herald_job_failures_total",
            "Scheduled job runs that raised (logged; the next run retries), by job.",
            ["job_id"],
            registry=registry,
        )

    def observe_slack_call(
        self, method: str, seconds: float, ok: bool, error: str | None = None
    ) -> None:
        """One Slack Web API call; `error` is Slack's error code or the exception's name."""
        self._slack_seconds.labels(_label(method)).observe(max(0.0, seconds))
        if not ok:
            self._slack_errors.labels(_label(method), _label(error or "error")).inc()

    def inbox_duplicate(self, source: str) -> None:
        """An inbound request dropped because its inbox key was already recorded."""
        self._inbox_duplicates.labels(_label(source)).inc()

    def command_done(self, outcome: str) -> None:
        """A kept command's work ended with `outcome` (one of `COMMAND_OUTCOMES`)."""
        self._commands.labels(_label(outcome)).inc()

    def job_added(self, job: str, *, period_seconds: float) -> None:
        """Scheduled job `job` runs every `period_seconds`; its series start now."""
        self._job_period.labels(_label(job)).set(period_seconds)
        self._job_success.labels(_label(job)).set(time.time())
        self._job_failures.labels(_label(job))

    def job_succeeded(self, job: str) -> None:
        """A run of scheduled job `job` completed."""
        self._job_success.labels(_label(job)).set(time.time())

    def job_failed(self, job: str) -> None:
        """A run of scheduled job `job` raised."""
        self._job_failures.labels(_label(job)).inc()

    def rows_pruned(self, table: str, count: int) -> None:
        """Rows of `table` the retention job deleted in one run (0 still shows the series)."""
        self._rows_pruned.labels(_label(table)).inc(max(0, count))

    async def snapshot(self, load: Callable[[], Awaitable[MetricsSnapshot]]) -> MetricsSnapshot:
        """The store snapshot, at most `snapshot_ttl_seconds` old; one query at a time."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.snapshot_ttl_seconds:
                return self._cached[1]
            try:
                taken = await load()
            except Exception:
                self._snapshot_ok.set(0)
                raise
            self._snapshot_seconds.set(time.monotonic() - now)
            self._snapshot_ok.set(1)
            self._cached = (time.monotonic(), taken)
            return taken

    def render(self, snapshot: MetricsSnapshot | None) -> bytes:
        """The text exposition; without a snapshot, only the process-local metrics.

        Synchronous from setting the snapshot to the end of rendering, so two scrapes on one
        event loop cannot interleave."""
        self._store.snapshot = snapshot
        try:
            return generate_latest(self.registry)
        finally:
            self._store.snapshot = None


METRICS = web.AppKey("herald_metrics", HeraldMetrics)
