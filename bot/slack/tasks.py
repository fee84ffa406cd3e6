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


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, on_error: ErrorReply) -> None:
        """Run `work` now, after the ack; a crash is logged with an id the user is shown."""
        cid = correlation_id.get() or uuid.uuid4().hex[:16]
        task = asyncio.create_task(self._guard(work, on_error=on_error, cid=cid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(
        self, work: Coroutine[Any, Any, None], *, on_error: ErrorReply, cid: str
    ) -> None:
        token = correlation_id.set(cid)
        try:
            await work
        except Exception:
            log.exception("command failed after the ack")
            try:
                await on_error(
                    f":boom: Herald hit an internal error (reference `{cid}`); nothing "
                    "further was done. Quote the reference when you report it."
                )
            except Exception:
                log.exception("could not tell the user about the error")
        finally:
            correlation_id.reset(token)

    async def drain(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
