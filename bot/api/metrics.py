"""`GET /metrics` for Prometheus.

The handler awaits the store snapshot (aggregate queries, cached a few seconds; see
`bot.observability`) and renders it with the app's own registry: no query runs inside
prometheus-client's synchronous `collect()`, and the event loop is never blocked on the
database. If the store does not answer, the process-local metrics are still served and
`herald_metrics_snapshot_ok` is 0.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.deps import DEPS
from bot.observability import CONTENT_TYPE, METRICS, HeraldMetrics
from bot.store.metrics_snapshot import MetricsSnapshot, take_snapshot

log = logging.getLogger(__name__)


def add_routes(app: web.Application) -> None:
    """Register `GET /metrics`, and give the app its `HeraldMetrics` if nobody else did."""
    app.router.add_get("/metrics", get_metrics)
    app.on_startup.append(_ensure_metrics)


async def _ensure_metrics(app: web.Application) -> None:
    if METRICS not in app:
        app[METRICS] = HeraldMetrics()


async def get_metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    deps = request.app[DEPS]

    async def load() -> MetricsSnapshot:
        return await take_snapshot(database=deps.database, now=deps.clock())

    snapshot: MetricsSnapshot | None
    try:
        snapshot = await metrics.snapshot(load)
    except Exception:
        log.warning("metrics: the store snapshot failed", exc_info=True)
        snapshot = None
    return web.Response(body=metrics.render(snapshot), headers={"Content-Type": CONTENT_TYPE})
