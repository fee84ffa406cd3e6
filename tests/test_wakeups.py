"""Worker loops stop when shut down, even when a wake-up lands in the same loop turn.

Python 3.11's `asyncio.wait_for` swallows such a cancellation; a delivery loop built on it
kept running and `herald serve` (and CI) hung at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.integrations.page_delivery import PageDelivery
from bot.integrations.pagerduty import PagerDutyClient
from bot.slack.delivery import SlackDelivery
from bot.store.database import Database, create_engine
from bot.store.migrate import upgrade
from bot.wakeups import sleep_until_woken


async def _cancel_while_waking(task: asyncio.Task[None], wake: Callable[[], None]) -> bool:
    """Wake the loop and cancel it in the same turn, a few times; True when it stopped."""
    for _ in range(5):
        await asyncio.sleep(0.05)
        wake()
        await asyncio.sleep(0)  # the wait finishes ...
        task.cancel()  # ... as the shutdown arrives
    done, _ = await asyncio.wait({task}, timeout=2)
    return task in done and task.cancelled()


async def test_a_sleeper_woken_and_cancelled_at_once_is_cancelled() -> None:
    wakeup = asyncio.Event()

    async def loop() -> None:
        while True:
            wakeup.clear()
            await sleep_until_woken(wakeup, seconds=10)

    assert await _cancel_while_waking(asyncio.create_task(loop()), wakeup.set)


async def test_sleep_until_woken_returns_on_the_event_or_the_timeout() -> None:
    wakeup = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, wakeup.set)
    await asyncio.wait_for(sleep_until_woken(wakeup, seconds=30), 1)
    wakeup.clear()
    await asyncio.wait_for(sleep_until_woken(wakeup, seconds=0.01), 1)


async def test_delivery_workers_stop_when_shut_down_during_a_wake_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'herald.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(create_engine(url))
    session = aiohttp.ClientSession()
    try:
        slack = SlackDelivery(
            database=database,
            client=AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"),
            clock=lambda: datetime.now(UTC),
            poll_seconds=30,
        )
        pages = PageDelivery(
            database=database,
            pager=PagerDutyClient(session=session, events_url="http://127.0.0.1:9"),
            routing_key_for=_no_routing_key,
            clock=lambda: datetime.now(UTC),
            poll_seconds=30,
        )
        for worker in (slack, pages):
            task = asyncio.create_task(worker.run())
            assert await _cancel_while_waking(task, worker.wake), type(worker).__name__
    finally:
        await session.close()
        await database.close()


async def _no_routing_key(_release_id: str) -> str | None:
    return None
