"""APScheduler as the timer for checkups; the schedule itself lives in Herald's own table."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.checkup.checkup import Checkup
from bot.domain.checkup.run import CheckupRunner
from bot.store.checkups import claim_due
from bot.store.database import Database

log = logging.getLogger(__name__)
JOB_ID = "herald-checkups"
_T = TypeVar("_T")


class CheckupClock:
    """Every `interval`, claim the due checkups (late ones too) and run them, bounded."""

    def __init__(
        self,
        *,
        database: Database,
        runner: CheckupRunner,
        clock: Callable[[], datetime],
        interval_seconds: float = 5.0,
        concurrency: int = 50,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self._database = database
        self._runner = runner
        self._clock = clock
        self._interval = interval_seconds
        self._lease = lease
        self._slots = asyncio.Semaphore(concurrency)
        self._batch = concurrency * 2
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        self.add_interval(self.tick, seconds=self._interval, job_id=JOB_ID)
        self.scheduler.start()

    def add_interval(
        self, work: Callable[[], Awaitable[object]], *, seconds: float, job_id: str
    ) -> None:
        """Every `seconds`, first at once (checkups that fell due while Herald was down, say)."""
        self.scheduler.add_job(
            self._tracked(work),
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,  # never drop a run because the loop was busy
            coalesce=True,
            max_instances=1,
        )

    def add_daily(self, work: Callable[[], Awaitable[object]], *, at: str, job_id: str) -> None:
        """A daily job at `at` (HH:MM, UTC), e.g. the stakeholder digest."""
        hour, minute = (int(part) for part in at.split(":"))
        self._add_cron(work, job_id=job_id, hour=hour, minute=minute)

    def add_weekly(self, work: Callable[[], Awaitable[object]], *, at: str, job_id: str) -> None:
        """A weekly job at `at` ("mon 09:00", UTC), e.g. the weekly report."""
        day, clock_time = at.split()
        hour, minute = (int(part) for part in clock_time.split(":"))
        self._add_cron(work, job_id=job_id, day_of_week=day, hour=hour, minute=minute)

    def _add_cron(
        self, work: Callable[[], Awaitable[object]], *, job_id: str, **when: int | str
    ) -> None:
        """A late run (Herald was down) still runs within the hour, once."""
        self.scheduler.add_job(
            self._tracked(work),
            "cron",
            **when,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
        )

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Start nothing new, let running jobs finish (APScheduler would cancel them mid-write,
        leaving a transaction open), then shut the timer down."""
        self.scheduler.pause()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=timeout)
            for task in late:
                log.error("job %s still running at shutdown; cancelled", task.get_name())
                task.cancel()
        self.shutdown()

    def _tracked(self, work: Callable[[], Awaitable[_T]]) -> Callable[[], Awaitable[_T]]:
        """`work`, with its task known to `stop` while it runs."""

        async def run() -> _T:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                return await work()
            finally:
                self._running.discard(task)

        run.__name__ = getattr(work, "__name__", "job")
        return run

    async def tick(self) -> int:
        """Run every due checkup; returns how many ran. A failed tick is retried by the next."""
        try:
            return await self._tick()
        except Exception:
            log.exception("checkup tick failed; the next tick retries")
            return 0

    async def _tick(self) -> int:
        ran = 0
        while batch := await claim_due(
            database=self._database, now=self._clock(), lease=self._lease, limit=self._batch
        ):
            by_release: dict[str, list[Checkup]] = {}
            for checkup in sorted(batch, key=lambda c: c.due_at):
                by_release.setdefault(checkup.release_id, []).append(checkup)
            await asyncio.gather(*(self._run_in_order(group) for group in by_release.values()))
            ran += len(batch)
        return ran

    async def _run_in_order(self, checkups: list[Checkup]) -> None:
        """A release's checkups run one after another, oldest first; releases in parallel."""
        async with self._slots:
            for checkup in checkups:
                try:
                    await self._runner.run(checkup)
                except Exception:  # the lease runs out and another tick retries it
                    log.exception(
                        "checkup failed",
                        extra={"release_id": checkup.release_id, "checkup": checkup.label},
                    )
