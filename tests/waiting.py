"""How a test waits: until something happens (`eventually`), or to see that nothing more
happens (`stays`). Both poll a check, plain or async, and fail with an AssertionError that
names what they waited for."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Check = Callable[[], bool | Awaitable[bool]]


async def eventually(
    check: Check,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109  (a deadline the failure names, not a cancel)
    interval: float = 0.01,
    what: str | None = None,
) -> None:
    """Return once `check()` is true; fail after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:  # a poll: the checks read stand-ins' and Herald's state, no event
                if await _holds(check):
                    return
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"waited {timeout:g} s for {what or _source(check)}") from None


async def stays(
    check: Check, *, seconds: float, interval: float = 0.01, what: str | None = None
) -> None:
    """Return after `seconds` in which `check()` was true each time it was asked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        started = loop.time()
        assert await _holds(check), (
            f"{what or _source(check)} stopped holding after {started - deadline + seconds:.2f} s"
        )
        if started >= deadline:
            return
        await asyncio.sleep(min(interval, deadline - started))


async def _holds(check: Check) -> bool:
    result = check()
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


def _source(check: Check) -> str:
    try:
        return inspect.getsource(check).strip()
    except (OSError, TypeError):
        return repr(check)
