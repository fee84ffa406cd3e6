"""Every scheduled job says in `/metrics` how often it runs and when it last completed; a
job that raises is logged and counted, and the scheduler carries on running it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability import HeraldMetrics
from bot.scheduling import JOB_ID, CheckupClock
from tests.conftest import Herald, SettingsFactory, start_herald
from tests.metric_samples import value
from tests.test_metrics_endpoint import scrape
from tests.waiting import eventually


def figures(metrics: HeraldMetrics) -> dict[tuple[str, str], float]:
    """(sample name, job_id) → value, from what `/metrics` would render."""
    text = metrics.render(None).decode()
    return {
        (sample.name, sample.labels.get("job_id", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_job_that_raises_is_counted_and_runs_again() -> None:
    metrics = HeraldMetrics()
    timer = CheckupClock(database=None, runner=None, clock=datetime.now, jobs=metrics)  # type: ignore[arg-type]
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the store went away")

    timer.add_interval(flaky, seconds=0.05, job_id="herald-flaky")
    scheduled = figures(metrics)[("herald_job_last_success_timestamp_seconds", "herald-flaky")]
    timer.scheduler.start()
    try:
        await eventually(lambda: len(runs) >= 2)
        await eventually(
            lambda: (
                figures(metrics)[("herald_job_last_success_timestamp_seconds", "herald-flaky")]
                > scheduled
            )
        )
    finally:
        await timer.stop()
    seen = figures(metrics)
    assert seen[("herald_job_failures_total", "herald-flaky")] == 1
    assert seen[("herald_job_period_seconds", "herald-flaky")] == 0.05


@pytest.fixture
async def running_herald(make_settings: SettingsFactory, sqlite_url: str) -> AsyncIterator[Herald]:
    settings = make_settings(database_url=sqlite_url, digest_channel="CDIGEST")
    runner = await start_herald(settings)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


async def test_every_scheduled_job_has_a_period_and_a_last_success(
    running_herald: Herald,
) -> None:
    samples = await scrape(running_herald)
    jobs = {
        dict(labels)["job_id"]
        for name, labels in samples
        if name == "herald_job_last_success_timestamp_seconds"
    }
    assert {JOB_ID, "herald-digest", "herald-weekly", "herald-resume"} <= jobs
    assert "herald-alert-rollbacks" in jobs
    for job in jobs:
        assert value(samples, "herald_job_period_seconds", job_id=job) > 0
        assert value(samples, "herald_job_failures_total", job_id=job) == 0
    # the reports look for a period they owe every 30 s; a missed run shows within a minute
    assert value(samples, "herald_job_period_seconds", job_id="herald-digest") == 30
