"""Health endpoints and Slack's Request URL."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.api.http import error_response
from bot.deps import DEPS
from bot.version import read_version


class Workers(Protocol):
    """The worker processes of `herald serve --workers N` (bot/serving/supervisor.py)."""

    @property
    def live(self) -> int: ...


BOLT = web.AppKey("herald_bolt", AsyncApp)
WORKERS = web.AppKey("herald_workers", Workers)  # only with --workers


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Slack's Request URL. A non-numeric timestamp would crash Bolt (500): refuse it here."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not stamp.isdigit():
        return error_response(401, "missing or malformed X-Slack-Request-Timestamp")
    bolt_request = await to_bolt_request(request)
    bolt_response = await request.app[BOLT].async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def healthz(_request: web.Request) -> web.Response:
    """Alive, and which Herald answers (`{"status": "ok", "version": "0.1.0"}`): no token, no
    database, so a probe or an operator checking a rollout sees the version at once."""
    return web.json_response({"status": "ok", "version": read_version()})


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    if not await deps.database.ping():
        return error_response(503, "database unreachable")
    if (workers := request.app.get(WORKERS)) is not None and workers.live == 0:
        return error_response(
            503,
            "no worker process is up: commands and messages are recorded but not carried out "
            "until the supervisor has started one again",
        )
    return web.json_response({"status": "ready"})
