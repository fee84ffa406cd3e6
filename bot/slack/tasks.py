"""Work that runs after the ack: tracked, awaited on shutdown, errors handled in one place."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.logs import correlation_id

log = logging.getLogger(__name__)
ErrorReply = Callable[[str], Awaitable[None]]
Finish = Callable[[str], Awaitable[None]]  # inbox key → the request's work is done
Outcome = Callable[[str], None]  # how a kept request's work ended: "answered", "failed", ...


class BackgroundTasks:
    """`finish` is told when the work of a kept request (by its inbox key) is over, answered
    with an error included; work cut short by a crash is not, and is resumed. `outcome` is
    told how each kept request's work ended (`herald_commands_total`)."""

    def __init__(self, *, finish: Finish | None = None, outcome: Outcome | None = None) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._finish = finish
        self._outcome = outcome
        self._running: set[str] = set()
        self._freed: Callable[[], None] = lambda: None

    def call_when_freed(self, callback: Callable[[], None]) -> None:
        """`callback` runs each time a kept request's work is over and its key let go."""
        self._freed = callback

    @property
    def running_keys(self) -> frozenset[str]:
        return frozenset(self._running)

    def spawn(
        self,
        work: Coroutine[Any, Any, None],
        *,
        on_error: ErrorReply,
        key: str | None = None,
        done_as: str = "answered",
    ) -> None:
        """Run `work` now, after the ack; a crash is logged with an id the user is shown.
        A kept request's outcome is `done_as` when its work completes, else "failed"."""
        cid = correlation_id.get() or uuid.uuid4().hex[:16]
        if key is not None:
            self._running.add(key)
        guarded = self._guard(work, on_error=on_error, cid=cid, key=key, done_as=done_as)
        task = asyncio.create_task(guarded)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(
        self,
        work: Coroutine[Any, Any, None],
        *,
        on_error: ErrorReply,
        cid: str,
        key: str | None,
        done_as: str,
    ) -> None:
        token = correlation_id.set(cid)
        try:
            done = await self._run(work, on_error=on_error, cid=cid)
            if key is not None and self._outcome is not None:
                self._outcome(done_as if done else "failed")
            if key is not None and self._finish is not None:
                await self._finish(key)
        except Exception:
            log.exception("could not mark a finished request done; it may be resumed")
        finally:
            correlation_id.reset(token)
            if key is not None:
                self._running.discard(key)
                self._freed()

    async def _run(
        self, work: Coroutine[Any, Any, None], *, on_error: ErrorReply, cid: str
    ) -> bool:
        """Whether `work` completed; if it raised, the user is told."""
        try:
            await work
            return True
        except Exception:
            log.exception("command failed after the ack")
            try:
                await on_error(
                    f":boom: Herald hit an internal error (reference `{cid}`); nothing "
                    "further was done. Quote the reference when you report it."
                )
            except Exception:
                log.exception("could not tell the user about the error")
            return False

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait for the work in flight. What still runs after `timeout` is cancelled before
        the sessions it uses are closed: it ends cut short — not finished, so the next
        Herald resumes it from the inbox — instead of failing on a closed session and
        telling its user about an "internal error" that never happened."""
        if not self._tasks:
            return
        _, running = await asyncio.wait(self._tasks, timeout=timeout)
        if running:
            log.warning(
                "work still running at shutdown was cut short; it resumes at the next start",
                extra={"requests": len(running)},
            )
            for task in running:
                task.cancel()
            await asyncio.wait(running, timeout=5)


class Dispatch:
    """Where an acked command's work runs: here and now, or — with `nudge`, in the split of
    `herald serve --workers N` — in a worker process, which claims it from the inbox (where
    the ack recorded it) once nudged. Work without an inbox key always runs here."""

    def __init__(self, tasks: BackgroundTasks, *, nudge: Callable[[], None] | None = None) -> None:
        self._tasks = tasks
        self._nudge = nudge

    def start(
        self,
        work: Callable[[], Coroutine[Any, Any, None]],
        *,
        on_error: ErrorReply,
        key: str | None,
    ) -> None:
        if self._nudge is not None and key is not None:
            self._nudge()
            return
        self._tasks.spawn(work(), on_error=on_error, key=key)
