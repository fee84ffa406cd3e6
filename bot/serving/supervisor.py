"""The worker processes of `herald serve --workers N`, kept running by the server process.

Each worker is a fresh interpreter (multiprocessing's spawn: nothing of the server's event
loop, threads or connections is inherited) running bot/serving/worker.py. The server nudges
them through one pipe each when it recorded work (a command to carry out, a message to
send); a worker that dies is replaced at once and what it had claimed is handed out again.
When the server dies, its workers see their pipe close and stop.

Every process writes its metrics to the run's `MetricFiles` (bot/serving/shared_metrics.py);
a dead worker's are folded before its replacement starts. The supervisor keeps
`herald_workers_up` and `herald_worker_restarts_total`, and `/readyz` asks it how many
workers are up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from prometheus_client import Counter, Gauge

from bot.catalog import Catalog
from bot.serving.shared_metrics import MetricFiles
from bot.settings import Settings
from bot.store import inbox
from bot.store.database import Database

log = logging.getLogger(__name__)
CHECK_EVERY = 0.2  # seconds between looks at the workers
STOP_WITHIN = 15.0  # seconds a worker gets to finish what it holds on shutdown


@dataclass
class Worker:
    index: int
    process: BaseProcess
    nudges: Connection  # the server's end of the worker's pipe

    @property
    def name(self) -> str:
        """The name its inbox claims carry (bot/slack/command_queue.this_process)."""
        return f"{socket.gethostname()}:{self.process.pid}"


class WorkerMetrics:
    """The supervisor's figures; built once this process writes to the run's metric files,
    on no registry: the server's `/metrics` reads them from the files (bot/observability)."""

    def __init__(self) -> None:
        self.up = Gauge(
            "herald_workers_up",
            "Worker processes of `herald serve --workers N` alive now (0: nothing is carried "
            "out; /readyz fails).",
            registry=None,
            multiprocess_mode="livesum",  # only the server sets it
        )
        self.restarts = Counter(
            "herald_worker_restarts",
            "Worker processes that exited and were replaced.",
            registry=None,
        )


class Supervisor:
    def __init__(self, *, settings: Settings, catalog: Catalog, count: int) -> None:
        self._settings = settings
        self._catalog = catalog
        self._database: Database | None = None
        self._files: MetricFiles | None = None
        self._metrics: WorkerMetrics | None = None
        self._count = count
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[Worker] = []
        self._watch: asyncio.Task[None] | None = None

    @property
    def live(self) -> int:
        """How many worker processes are alive now."""
        return sum(worker.process.is_alive() for worker in self._workers)

    async def start(self, *, database: Database, files: MetricFiles) -> None:
        self._database = database
        self._files = files
        self._metrics = WorkerMetrics()
        for index in range(self._count):
            self._workers.append(await asyncio.to_thread(self._spawn, index))
        self._metrics.up.set(self.live)
        self._watch = asyncio.create_task(self._keep_running(), name="herald-supervisor")

    def nudge(self) -> None:
        """Tell every worker there is work; never blocks (a full pipe already says so)."""
        for worker in self._workers:
            with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
                os.write(worker.nudges.fileno(), b"!")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for worker in self._workers:
            worker.process.terminate()  # SIGTERM: finish what it holds, then exit
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, STOP_WITHIN)
            if worker.process.is_alive():
                log.error("worker %s did not stop in %g s; killed", worker.name, STOP_WITHIN)
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, 5)
            worker.nudges.close()

    def _spawn(self, index: int) -> Worker:
        from bot.serving.worker import run_worker

        assert self._files is not None  # started
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(self._settings, self._catalog, reader, self._files.path),
            name=f"herald-worker-{index}",
            daemon=False,
        )
        process.start()
        reader.close()  # the worker holds it now; the server keeps only the writing end
        os.set_blocking(writer.fileno(), False)
        return Worker(index, process, writer)

    async def _keep_running(self) -> None:
        assert self._metrics is not None  # started
        while True:
            await asyncio.sleep(CHECK_EVERY)
            self._metrics.up.set(self.live)
            for position, worker in enumerate(self._workers):
                if worker.process.is_alive():
                    continue
                try:
                    await self._replace(position, worker)
                except Exception:
                    log.exception("could not replace worker %s; trying again", worker.name)

    async def _replace(self, position: int, dead: Worker) -> None:
        code = dead.process.exitcode
        assert self._database is not None and self._files is not None  # started
        assert self._metrics is not None and dead.process.pid is not None
        released = await inbox.release_claims(database=self._database, worker=dead.name)
        log.error(
            "worker %s exited (code %s); starting another, %d claimed requests handed out again",
            dead.name,
            code,
            released,
            extra={"exit_code": code, "released": released},
        )
        dead.nudges.close()
        self._fold(dead.process.pid)
        self._workers[position] = await asyncio.to_thread(self._spawn, dead.index)
        self._metrics.restarts.inc()
        self._metrics.up.set(self.live)
        self.nudge()

    def _fold(self, pid: int) -> None:
        """The dead worker's counts join the folded totals, at once: no scrape runs in
        between. If that fails they stay in its own files, still counted; it is replaced."""
        assert self._files is not None  # started
        try:
            self._files.fold_dead(pid)
        except Exception:
            log.exception("could not fold the metric files of worker pid %d; left as they are", pid)
