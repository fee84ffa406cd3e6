"""Sleeping until woken: the one way Herald's worker loops wait."""

from __future__ import annotations

import asyncio
import contextlib


async def sleep_until_woken(wakeup: asyncio.Event, *, seconds: float) -> None:
    """Return when `wakeup` is set or after `seconds`, whichever comes first.

    Not `asyncio.wait_for(wakeup.wait(), seconds)`: on Python 3.11 that swallows a
    cancellation arriving in the same loop turn as the wake-up, and a worker loop built on it
    then never stops (shutdown hung on exactly that). `asyncio.timeout` lets it through.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wakeup.wait()
