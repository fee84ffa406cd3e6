"""APScheduler as the timer for checkups and periodic jobs; the schedules themselves live in
Herald's own tables (checkups) and in the jobs (reports: bot/reports/periods.py).

Every job runs through one wrapper: a run that completes is recorded as the job's last
success, a run that raises is logged and counted, and neither ever stops the scheduler. A
checkup whose judging raises is retried with a backoff, and after `max_attempts` it is
finished UNKNOWN with the reason (the report says "Could not judge: ...")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.domain.checkup.checkup import Checkup, describe_failure
from bot.domain.checkup.run import CheckupRunner
from bot.store.checkups import abandon_checkup, claim_due, retry_checkup
from bot.store.database import Database

log = logging.getLogger(__name__)
JOB_ID = "herald-checkups"
RETRY_AFTER = timedelta(seconds=30)  # a failed checkup's first retry; doubled each time
_T = TypeVar("_T")


class JobObserver(Protocol):
    """Where a job's outcome goes (`HeraldMetrics`: period, last success, failures)."""

    def job_added(self, job: str, *, period_seconds: float) -> None: ...

    def job_succeeded(self, job: str) -> None: ...

    def job_failed(self, job: str) -> None: ...


class _Unobserved:
    def job_added(self, job: str, *, period_seconds: float) -> None:
        return None

    def job_succeeded(self, job: str) -> None:
        return None

    def job_failed(self, job: str) -> None:
        return None


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
        max_attempts: int = 3,
        jobs: JobObserver | None = None,
    ) -> None:
        self._database = database
        self._runner = runner
        self._clock = clock
        self._interval = interval_seconds
        self._lease = lease
        self._max_attempts = max_attempts
        self._jobs: JobObserver = jobs or _Unobserved()
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
        self._jobs.job_added(job_id, period_seconds=seconds)
        self.scheduler.add_job(
            self._tracked(work, job_id),
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,  # never drop a run because the loop was busy
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

    def _tracked(
        self, work: Callable[[], Awaitable[_T]], job_id: str
    ) -> Callable[[], Awaitable[_T | None]]:
        """`work`, with its task known to `stop` while it runs, and its outcome observed: a
        run that raises is logged and counted (the next run retries), never re-raised."""

        async def run() -> _T | None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                done = await work()
            except Exception:
                log.exception("job %s failed; its next run retries", job_id, extra={"job": job_id})
                self._jobs.job_failed(job_id)
                return None
            finally:
                self._running.discard(task)
            self._jobs.job_succeeded(job_id)
            return done

        run.__name__ = getattr(work, "__name__", "job")
        return run

    async def tick(self) -> int:
        """Run every due checkup; returns how many ran. A failed tick is retried by the next."""
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
                await self._run_one(checkup)

    async def _run_one(self, checkup: Checkup) -> None:
        """Judge one checkup. A failure is retried after a backoff; at the last attempt (or
        when runs died mid-judging that often) the checkup is finished UNKNOWN instead."""
        extra = {"release_id": checkup.release_id, "checkup": checkup.label}
        if not checkup.rollback_pending and checkup.attempts > self._max_attempts:
            why = (
                f"{checkup.attempts - 1} attempts did not finish (the last cut short by a restart)"
            )
            await self._give_up(checkup, reason=why)
            return
        try:
            await self._runner.run(checkup)
        except Exception as exc:
            attempt = f"attempt {checkup.attempts} of {self._max_attempts}"
            log.exception("checkup failed (%s)", attempt, extra=extra)
            if checkup.rollback_pending:  # the lease runs out and another tick resumes it
                return
            if checkup.attempts >= self._max_attempts:
                await self._give_up(checkup, reason=describe_failure(exc))
                return
            backoff = min(self._lease, RETRY_AFTER * 2 ** max(0, checkup.attempts - 1))
            await retry_checkup(
                database=self._database, checkup_id=checkup.id, at=self._clock() + backoff
            )

    async def _give_up(self, checkup: Checkup, *, reason: str) -> None:
        """Finish the checkup UNKNOWN with its report; failing that, without one."""
        try:
            await self._runner.give_up(checkup, reason=reason)
        except Exception:
            log.exception(
                "checkup could not be reported; finished without a verdict",
                extra={"release_id": checkup.release_id, "checkup": checkup.label},
            )
            await abandon_checkup(
                database=self._database, checkup_id=checkup.id, reason=reason, now=self._clock()
            )
