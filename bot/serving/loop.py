"""The event loop `herald serve` and its workers run on: uvloop, where it is installed.

uvloop is libuv under asyncio's interface: the same coroutines, a cheaper loop. Measured
with bench/ingest_throughput.py (32 clients, SQLite, A/B in the same minutes), it took
Herald from 425-480 to 507-511 accepted events/s for ~2 MB more memory. Windows has no
uvloop; there, and wherever it is missing, asyncio's own loop serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or an install without it
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop above."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
