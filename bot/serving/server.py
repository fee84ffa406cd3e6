"""`herald serve`: the one process that does everything, or — with `settings.workers` — a
server that only verifies, records and acks, beside the worker processes it keeps running
(bot/serving/supervisor.py) that carry the work out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from bot.api.system import WORKERS
from bot.app import build_app
from bot.catalog import Catalog, load_catalog
from bot.core import Role
from bot.deps import DEPS, utcnow
from bot.observability import METRICS, HeraldMetrics
from bot.serving.loop import freeze_start_up
from bot.serving.shared_metrics import MetricFiles, share_in_this_process
from bot.serving.supervisor import Supervisor
from bot.settings import Settings

FILES = web.AppKey("herald_metric_files", MetricFiles)  # this run's, shared with the workers


def build_server(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> web.Application:
    """The aiohttp app `herald serve` runs, in the shape `settings.workers` asks for."""
    resolved = catalog if catalog is not None else load_catalog(settings.config_path)
    if not settings.workers:
        app = build_app(settings, catalog=resolved, clock=clock, migrate_in_child=True)
        app.on_startup.append(_freeze_start_up)
        return app
    supervisor = Supervisor(settings=settings, catalog=resolved, count=settings.workers)
    app = build_app(
        settings,
        catalog=resolved,
        clock=clock,
        role=Role.FRONT,
        nudge=supervisor.nudge,
        migrate_in_child=True,
    )
    app[WORKERS] = supervisor  # /readyz: not ready while no worker is up
    app.on_startup.append(_freeze_start_up)
    app.cleanup_ctx.insert(0, _shared_metrics)  # before the app builds its metrics
    app.cleanup_ctx.append(_workers(supervisor))
    return app


async def _freeze_start_up(app: web.Application) -> None:
    freeze_start_up()


async def _shared_metrics(app: web.Application) -> AsyncIterator[None]:
    """This run's metric files: made first, removed last, once every worker has exited."""
    files = MetricFiles.create()
    share_in_this_process(files.path)
    app[FILES] = files
    app[METRICS] = HeraldMetrics(shared_dir=files.path)
    try:
        yield
    finally:
        files.remove()


def _workers(
    supervisor: Supervisor,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # the store is opened (and migrated) by now
        await supervisor.start(database=app[DEPS].database, files=app[FILES])
        try:
            yield
        finally:
            await supervisor.stop()

    return lifecycle
