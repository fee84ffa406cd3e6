"""One worker process of `herald serve --workers N`: everything but serving HTTP.

It builds Herald as the server does (bot/app.py, role WORKER): the command queue, the outbox
senders, the checkup clock and the scheduled jobs. It is woken by a byte on its pipe from the
server (work was recorded) and polls besides. It stops on SIGTERM after what it holds, as the
server stops it; when the pipe closes because the server died, it exits at once, as if killed
with it, and the Herald started next carries out what it had claimed, once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web

from bot.catalog import Catalog
from bot.settings import Settings

log = logging.getLogger(__name__)
EXIT_ORPHANED = 3  # the worker's exit code when its server died
# Workers yield the CPU to their server whenever both want it: an ack waiting on a core is
# what Slack's 3 s deadline and webhook senders' timeouts see; the work after it can wait. The
# server holds one core at most (one interpreter), so on two cores a worker is never starved.
# 19 rather than 5: with 5, the scheduler let a busy worker finish its slice first and the
# ack p99 at one request in flight was 3.5-20x the bare Bolt floor; with 19, 4-10x (same run).
NICENESS = 19


def run_worker(settings: Settings, catalog: Catalog, nudges: Connection, metrics: Path) -> None:
    """The worker's main (a spawned interpreter's target); it writes its metrics to the
    server run's directory `metrics` (bot/serving/shared_metrics.py)."""
    from bot.logs import configure_logging
    from bot.serving.shared_metrics import share_in_this_process

    os.nice(NICENESS)
    configure_logging(level=settings.log_level)
    share_in_this_process(metrics)
    from bot.serving.loop import run

    run(_serve(settings, catalog, nudges, metrics))


async def _serve(settings: Settings, catalog: Catalog, nudges: Connection, metrics: Path) -> None:
    from bot.app import build_app
    from bot.core import Role
    from bot.observability import METRICS, HeraldMetrics
    from bot.serving.loop import freeze_start_up

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    nudged = asyncio.Event()
    app = build_app(settings, catalog=catalog, role=Role.WORKER, nudged=nudged)
    app[METRICS] = HeraldMetrics(shared_dir=metrics)
    loop.add_reader(nudges.fileno(), _read_nudges(nudges, nudged))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # opens the store and starts every loop (the app's cleanup context)
    freeze_start_up()
    log.info("worker started", extra={"pid": os.getpid()})
    try:
        await stop.wait()
    finally:
        loop.remove_reader(nudges.fileno())
        await runner.cleanup()
        log.info("worker stopped", extra={"pid": os.getpid()})


def _read_nudges(nudges: Connection, nudged: asyncio.Event) -> Callable[[], None]:
    def read() -> None:
        try:
            data = os.read(nudges.fileno(), 65536)
        except BlockingIOError:
            return
        if not data:  # the server closed its end: it is gone
            log.error("the server process is gone; this worker exits with it")
            os._exit(EXIT_ORPHANED)
        nudged.set()

    return read
