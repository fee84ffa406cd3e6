"""Group commit for SQLite's short writes: many callers' writes in one transaction.

Under a storm, each webhook, each outbox claim and each "sent" mark is a short write that
its caller waits on. One transaction each means one turn at the write gate, one hop to the
writer's thread and back to the event loop, one BEGIN IMMEDIATE and one COMMIT each — and,
against a worker process, one turn at SQLite's write lock each. Here writes that arrive
while a batch is being written wait for the next one, which takes them all (up to
`MAX_BATCH`) in one transaction, in the order they came. A caller whose write fails hears
only its own error: the writer then runs each write of that batch in a transaction of its
own (bot/store/sqlite_writer.py `run_all`).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar, cast

from bot.store.sqlite_writer import Done, SqliteWriter, Work, WouldWait
from bot.store.write_gate import WriteGate

T = TypeVar("T")
MAX_BATCH = 64  # writes per transaction: a batch holds the write lock for milliseconds
Pending = tuple[Work[Any], "asyncio.Future[Any]", bool]


class WriteBatches:
    def __init__(self, writer: SqliteWriter, gate: WriteGate) -> None:
        self._writer = writer
        self._gate = gate
        self._pending: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, work: Work[T], *, fast: bool = False) -> T:
        """`work(connection)` committed with whatever else is waiting; its result or error.
        `fast`: an ack waits on it — written at once on the event loop's thread when no
        other write is under way or queued, else the batch takes the gate's fast lane."""
        if fast and self._gate.try_acquire():
            try:
                return self._writer.try_here(work)
            except WouldWait:
                pass  # another process writes: queue below, as any write
            finally:
                self._gate.release()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((work, done, fast))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="herald-write-batches")
        # a caller that gives up does not take its write back: it may be on the thread already
        return cast(T, await asyncio.shield(done))

    async def _flush_all(self) -> None:
        while self._pending:
            await self._gate.acquire(fast=any(fast for _, _, fast in self._pending))
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                outcomes = await self._writer.run_all([work for work, _, _ in batch])
            except asyncio.CancelledError:  # shutting down: nobody waits for these any more
                for _, done, _ in batch:
                    done.cancel()
                raise
            except Exception as exc:  # the thread itself failed: every caller hears it
                for _, done, _ in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            finally:
                self._gate.release()
            for (_, done, _), outcome in zip(batch, outcomes, strict=True):
                if done.done():
                    continue
                if isinstance(outcome, Done):
                    done.set_result(outcome.result)
                else:
                    done.set_exception(outcome.error)
