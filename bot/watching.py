"""The watch loop: every second, claim the watches that are due and evaluate them, bounded.

The schedule lives in the watches table (each row's `due_at`); this is only the timer, run
by the checkup clock's scheduler. Evaluations of different releases run in parallel, up to
`concurrency` at once. An evaluation that cannot be judged says so in the watch's message
(`WatchRunner`); one that fails even to save is logged, counted and retried when its lease
runs out, and a watch past its end is finished then, so nothing is re-claimed forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.checkup.checkup import describe_failure
from bot.domain.watch.run import WatchRunner
from bot.domain.watch.watch import LostWatch, Watch
from bot.store import watches
from bot.store.database import Database

log = logging.getLogger(__name__)
JOB_ID = "herald-watches"


class WatchTicker:
    def __init__(
        self,
        *,
        database: Database,
        runner: WatchRunner,
        clock: Callable[[], datetime],
        concurrency: int = 50,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._database = database
        self._runner = runner
        self._clock = clock
        self._lease = lease
        self._slots = asyncio.Semaphore(concurrency)
        self._batch = concurrency * 2

    async def tick(self) -> int:
        """Evaluate every due watch; returns how many ran. A failed tick is retried by the next
        (the scheduler's job wrapper logs and counts it)."""
        batch = await watches.claim_due(
            database=self._database, now=self._clock(), lease=self._lease, limit=self._batch
        )
        await asyncio.gather(*(self._evaluate(watch) for watch in batch))
        return len(batch)

    async def _evaluate(self, watch: Watch) -> None:
        extra = {"release_id": watch.release_id, "watch": watch.purpose.value}
        async with self._slots:
            try:
                await self._runner.run(watch)
            except LostWatch:
                log.info("watch taken over by another runner; evaluation dropped", extra=extra)
            except Exception as exc:  # the lease runs out and a later tick retries it
                log.exception("watch evaluation failed", extra=extra)
                now = self._clock()
                await watches.note_failure(
                    database=self._database,
                    watch=watch,
                    reason=f"Could not judge: {describe_failure(exc)}",
                    now=now,
                    finish=watch.over(now),
                )
