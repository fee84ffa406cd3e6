"""The metric families `/metrics` builds from a pre-fetched `MetricsSnapshot` of the store
(releases, outbox, checkups, verdicts): read at scrape time, the same on every replica."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bot.domain.checkup.verdict import Color
from bot.store.metrics_snapshot import Histogram as BucketCounts
from bot.store.metrics_snapshot import MetricsSnapshot

VERDICT_VALUES = {Color.GREEN: 0, Color.YELLOW: 1, Color.RED: 2, Color.UNKNOWN: 3}
RELEASE_RESULTS = ("success", "failure", "rolled_back")


class SnapshotCollector(Collector):
    """Metric families built from a pre-fetched `MetricsSnapshot` (never queries anything)."""

    def __init__(self) -> None:
        self.snapshot: MetricsSnapshot | None = None

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return []
        return [*_release_families(snapshot), *_store_families(snapshot)]


def _release_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    started = CounterMetricFamily(
        "release_started",
        "Releases whose rollout started, all time (from Herald's store).",
        labels=["service", "env"],
    )
    completed = CounterMetricFamily(
        "release_completed",
        "Releases that reached a result, all time (from Herald's store). Results overlap: "
        "success = deployed, failure = failed (before or after deploying; a rolled-back "
        "release counts once here), rolled_back = rolled back. CFR = failure / success.",
        labels=["service", "env", "result"],
    )
    lead = HistogramMetricFamily(
        "release_lead_time_seconds",
        "Lead time of deployed releases: first commit to deployed, in seconds.",
        labels=["service", "env"],
    )
    recover = HistogramMetricFamily(
        "release_time_to_recover_seconds",
        "Time to restore of recovered releases: failed to recovered, in seconds.",
        labels=["service", "env"],
    )
    for totals in snapshot.releases:
        where = [totals.service, totals.env]
        started.add_metric(where, totals.started)
        results = (totals.deployed, totals.failed, totals.rolled_back)
        for result, value in zip(RELEASE_RESULTS, results, strict=True):
            completed.add_metric([*where, result], value)
        lead.add_metric(where, _buckets(totals.lead_time), totals.lead_time.sum)
        recover.add_metric(where, _buckets(totals.time_to_recover), totals.time_to_recover.sum)
    yield from (started, completed, lead, recover)


def _buckets(histogram: BucketCounts) -> list[tuple[str, float]]:
    pairs = [
        (_bound(bound), float(count))
        for bound, count in zip(histogram.bounds, histogram.buckets, strict=True)
    ]
    return [*pairs, ("+Inf", float(histogram.count))]


def _bound(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else repr(bound)


def _store_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "herald_outbox_depth", "Outbox messages waiting to be delivered.", labels=["sink"]
    )
    age = GaugeMetricFamily(
        "herald_outbox_oldest_age_seconds",
        "Age of the oldest outbox message waiting to be delivered (0 when none waits).",
        labels=["sink"],
    )
    dead = GaugeMetricFamily(
        "herald_outbox_dead", "Outbox messages Herald gave up delivering.", labels=["sink"]
    )
    for sink in snapshot.outbox:
        depth.add_metric([sink.sink], sink.depth)
        age.add_metric([sink.sink], sink.oldest_age_seconds)
        dead.add_metric([sink.sink], sink.dead)
    checkups = GaugeMetricFamily("herald_checkups", "Checkups by state.", labels=["state"])
    for state, count in sorted(snapshot.checkups.by_state.items()):
        checkups.add_metric([state], count)
    due = GaugeMetricFamily(
        "herald_checkups_due", "Pending checkups past their due time, not yet claimed."
    )
    due.add_metric([], snapshot.checkups.due)
    late = CounterMetricFamily(
        "herald_checkups_late", "Checkups that ran more than a minute after they were due."
    )
    late.add_metric([], snapshot.checkups.late)
    failed = CounterMetricFamily(
        "herald_checkups_failed",
        "Judgements Herald could not make (UNKNOWN: Prometheus unreachable, or judging "
        "failed): checkups finished without a verdict, and watch evaluations, by kind.",
        labels=["kind"],
    )
    failed.add_metric(["checkup"], snapshot.checkups.failed)
    failed.add_metric(["watch"], snapshot.checkups.watch_failed)
    verdict = GaugeMetricFamily(
        "herald_release_verdict",
        "Latest checkup verdict of releases deployed in the last 24 h: "
        "0 green, 1 yellow, 2 red, 3 unknown.",
        labels=["service", "env", "release"],
    )
    for row in snapshot.verdicts:
        verdict.add_metric([row.service, row.env, row.release_id], VERDICT_VALUES.get(row.color, 3))
    yield from (depth, age, dead, checkups, due, late, failed, verdict)
