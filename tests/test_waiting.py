"""The one way tests wait: it returns as soon as it may, and a failure says what it waited for."""

from __future__ import annotations

import asyncio

import pytest

from tests.waiting import eventually, stays


async def test_eventually_returns_once_the_check_holds() -> None:
    ticks: list[int] = []

    def ready() -> bool:
        ticks.append(1)
        return len(ticks) >= 3

    await eventually(ready, interval=0)
    assert len(ticks) == 3


async def test_eventually_awaits_an_async_check() -> None:
    async def ready() -> bool:
        await asyncio.sleep(0)
        return True

    await eventually(ready)


async def test_eventually_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"waited 0\.05 s for .*lambda: False"):
        await eventually(lambda: False, timeout=0.05)
    with pytest.raises(AssertionError, match=r"waited 0\.05 s for the feed"):
        await eventually(lambda: False, timeout=0.05, what="the feed")


async def test_stays_fails_as_soon_as_the_check_stops_holding() -> None:
    posted: list[str] = []
    asyncio.get_running_loop().call_later(0.05, posted.append, "late")
    with pytest.raises(AssertionError, match="nothing posted stopped holding after"):
        await stays(lambda: posted == [], seconds=5, what="nothing posted")


async def test_stays_returns_after_the_quiet_period() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stays(lambda: True, seconds=0.05)
    assert loop.time() - started >= 0.05
