"""How `herald serve` and its workers run: on uvloop, where it is installed, and with what
start-up made frozen out of the garbage collector once they serve.

uvloop is libuv under asyncio's interface: the same coroutines, a cheaper loop. Measured
with bench/ingest_throughput.py (32 clients, SQLite, A/B in the same minutes), it took
Herald from 425-480 to 507-511 accepted events/s for ~2 MB more memory. Windows has no
uvloop; there, and wherever it is missing, asyncio's own loop serves.
"""

from __future__ import annotations

import asyncio
import gc
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


def freeze_start_up() -> None:
    """Move every object start-up made (modules, the catalogue, SQLAlchemy's and pydantic's
    schemas) out of the collector's sight, once the process serves: a full collection then
    walks what requests make, instead of pausing an ack for milliseconds to find start-up's
    objects still alive. (Run by `herald serve` and its workers, not by tests that start
    Herald many times in one interpreter.)"""
    gc.collect()
    gc.freeze()
