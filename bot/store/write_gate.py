"""SQLite's one writer at a time, queued in this process, with a fast lane.

Writers wait here in order instead of in SQLite's busy handler (which sleeps and retries,
starving the unlucky). A writer on the fast lane (the inbox insert a Slack ack waits on)
goes before every queued ordinary writer, so a burst of background writes cannot push an
ack past Slack's 3 seconds.
"""

from __future__ import annotations

import asyncio
from collections import deque


class WriteGate:
    def __init__(self) -> None:
        self._held = False
        self._fast: deque[asyncio.Future[None]] = deque()
        self._queued: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take the gate if nobody holds it or waits for it; never waits."""
        if self._held or self._fast or self._queued:
            return False
        self._held = True
        return True

    async def acquire(self, *, fast: bool = False) -> None:
        if not self._held and not self._fast and not self._queued:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._fast if fast else self._queued).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed the gate just as we gave up: pass it on
            else:
                (self._fast if fast else self._queued).remove(turn)
            raise

    def release(self) -> None:
        """Hand the gate to the next writer, fast lane first; else open it."""
        for lane in (self._fast, self._queued):
            while lane:
                turn = lane.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._held = False
