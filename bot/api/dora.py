"""`GET /api/v1/dora?service=&env=&window=30d`: DORA figures from Herald's own store."""

from __future__ import annotations

from aiohttp import web

from bot.api.http import parse_name, require_bearer
from bot.deps import DEPS
from bot.domain.dora.window import DoraWindow, parse_window
from bot.store.dora import dora_report

DEFAULT_WINDOW = "30d"


def add_routes(app: web.Application) -> None:
    """Register `GET /api/v1/dora`."""
    app.router.add_get("/api/v1/dora", get_dora)


async def get_dora(request: web.Request) -> web.Response:
    """Every figure with its count and enough-data flag, for the window ending now, and the
    previous window's figures with the trend. Bearer token as `/api/v1/releases`."""
    deps = request.app[DEPS]
    token = deps.settings.ingest_token
    require_bearer(request, token.get_secret_value() if token else None)
    query = request.query
    length = parse_window(query.get("window") or DEFAULT_WINDOW)
    service = parse_name(query.get("service"), field="service")
    env = parse_name(query.get("env"), field="env")
    window = DoraWindow.including(deps.clock(), length)
    report = await dora_report(deps.database, window=window, service=service, env=env)
    return web.json_response(report.as_dict())
