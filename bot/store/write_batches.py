"""Group commit for short writes: many callers' writes in one transaction.

Under a storm, each webhook, each outbox claim and each "sent" mark is a short write that
its caller waits on. One transaction each means one turn at the write gate, one hop to the
writer's thread and back to the event loop, one BEGIN IMMEDIATE and one COMMIT each — and,
against a worker process, one turn at SQLite's write lock each. Here writes that arrive
while a batch is being written wait for the next one, which takes them all (up to
`MAX_BATCH`) in one transaction, in the order they came. A caller whose write fails hears
only its own error: the writer then runs each write of that batch in a transaction of its
own (bot/store/sqlite_writer.py `run_all`).

On PostgreSQL there is no write gate, and several batches are written at once, one per
writer thread (bot/store/postgres_writer.py): a write waits for a batch only while every
thread is busy. That saves a COMMIT (a WAL flush) per write; what it costs is that a
batch holds its rows' locks until all of it commits — another replica's batch that wants
one waits, and two that want each other's are a deadlock the server breaks by aborting
one: that batch is then written one write at a time, as after any failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast

from bot.store.sqlite_writer import Done, Outcome, Work, WouldWait
from bot.store.write_gate import WriteGate

T = TypeVar("T")
MAX_BATCH = 64  # writes per transaction: a batch holds the write lock for milliseconds
Pending = tuple[Work[Any], "asyncio.Future[Any]", bool]


class Writer(Protocol):
    async def run_all(self, works: Sequence[Work[Any]]) -> list[Outcome]: ...


class HereWriter(Writer, Protocol):
    def try_here(self, work: Work[T]) -> T: ...


class WriteBatches:
    """`gate`: SQLite's write gate, held while a batch is written (then `writer` must have
    `try_here`); without one, up to `flushers` batches are written at once."""

    def __init__(self, writer: Writer, *, gate: WriteGate | None = None, flushers: int = 1) -> None:
        self._writer = writer
        self._gate = gate
        self._most = flushers
        self._pending: list[Pending] = []
        self._flushers: list[asyncio.Task[None]] = []

    async def run(self, work: Work[T], *, fast: bool = False) -> T:
        """`work(connection)` committed with whatever else is waiting; its result or error.
        `fast`: an ack waits on it — written at once on the event loop's thread when no
        other write is under way or queued, else the batch takes the gate's fast lane."""
        if fast and self._gate is not None and self._gate.try_acquire():
            try:
                return cast(HereWriter, self._writer).try_here(work)
            except WouldWait:
                pass  # another process writes: queue below, as any write
            finally:
                if self._gate is not None:
                    self._gate.release()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((work, done, fast))
        self._flushers = [flusher for flusher in self._flushers if not flusher.done()]
        if len(self._flushers) < self._most:
            flusher = asyncio.create_task(self._flush_all(), name="herald-write-batches")
            self._flushers.append(flusher)
        # a caller that gives up does not take its write back: it may be on the thread already
        return cast(T, await asyncio.shield(done))

    async def _flush_all(self) -> None:
        while self._pending:
            if self._gate is not None:
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
                if self._gate is not None:
                    self._gate.release()
            for (_, done, _), outcome in zip(batch, outcomes, strict=True):
                if done.done():
                    continue
                if isinstance(outcome, Done):
                    done.set_result(outcome.result)
                else:
                    done.set_exception(outcome.error)
