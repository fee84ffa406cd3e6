"""`herald serve`: the one process that does everything, or — with `settings.workers` — a
server that only verifies, records and acks, beside the worker processes it keeps running
(bot/serving/supervisor.py) that carry the work out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from bot.app import build_app
from bot.catalog import Catalog, load_catalog
from bot.core import Role
from bot.deps import DEPS, utcnow
from bot.serving.supervisor import Supervisor
from bot.settings import Settings


def build_server(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> web.Application:
    """The aiohttp app `herald serve` runs, in the shape `settings.workers` asks for."""
    resolved = catalog if catalog is not None else load_catalog(settings.config_path)
    if not settings.workers:
        return build_app(settings, catalog=resolved, clock=clock)
    supervisor = Supervisor(settings=settings, catalog=resolved, count=settings.workers)
    app = build_app(
        settings, catalog=resolved, clock=clock, role=Role.FRONT, nudge=supervisor.nudge
    )
    app.cleanup_ctx.append(_workers(supervisor))
    return app


def _workers(
    supervisor: Supervisor,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await supervisor.start(database=app[DEPS].database)  # opened (and migrated) by now
        try:
            yield
        finally:
            await supervisor.stop()

    return lifecycle
