"""`GET /api/v1/outbox/dead`: the messages and pages Herald gave up delivering."""

from __future__ import annotations

from aiohttp import web

from bot.api.http import parse_limit, require_bearer
from bot.deps import DEPS
from bot.errors import FieldProblem, InvalidInput
from bot.store.dead_letters import list_dead_letters

SINKS = ("slack", "pagerduty")


def add_routes(app: web.Application) -> None:
    """Register `GET /api/v1/outbox/dead`."""
    app.router.add_get("/api/v1/outbox/dead", get_dead_letters)


async def get_dead_letters(request: web.Request) -> web.Response:
    """Newest first: `?release=<id>`, `?sink=slack|pagerduty`, `?limit=1..500` (50).
    Bearer token as `/api/v1/releases`."""
    deps = request.app[DEPS]
    token = deps.settings.ingest_token
    require_bearer(request, token.get_secret_value() if token else None)
    query = request.query
    limit = parse_limit(query.get("limit"))
    sink = query.get("sink") or None
    if sink is not None and sink not in SINKS:
        raise InvalidInput(
            f"sink {sink!r} is not one of {', '.join(SINKS)}",
            details=[FieldProblem("sink", f"one of {', '.join(SINKS)}")],
        )
    letters = await list_dead_letters(
        database=deps.database,
        limit=limit,
        release_id=query.get("release") or None,
        sink=sink,
    )
    return web.json_response({"dead_letters": letters})
