"""Composition root: builds every piece from Settings and wires them into one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.api import hooks, releases
from bot.api.http import (
    MAX_BODY_BYTES,
    correlation_middleware,
    error_middleware,
    error_response,
)
from bot.catalog import Catalog, build_directory, load_catalog
from bot.deps import DEPS, Deps, utcnow
from bot.domain.operations import Operations
from bot.integrations.argocd import ArgoCDClient
from bot.settings import Settings
from bot.slack.blocks import render_notice
from bot.slack.bolt import build_bolt_app
from bot.slack.delivery import SlackDelivery
from bot.slack.groups import SlackGroupDirectory
from bot.slack.tasks import BackgroundTasks
from bot.store import outbox
from bot.store.audit import SqlAuditLog
from bot.store.database import Database, create_engine
from bot.store.ledger import LedgerFactory
from bot.store.migrate import upgrade
from bot.store.releases import SqlReleaseReader

log = logging.getLogger(__name__)
BOLT = web.AppKey("herald_bolt", AsyncApp)


def build_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    catalog: Catalog | None = None,
    deliver: bool = True,
) -> web.Application:
    """The whole HTTP surface of `herald serve`; resources open and close with the app."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[correlation_middleware, error_middleware]
    )
    resolved = catalog if catalog is not None else load_catalog(settings.config_path)
    app.cleanup_ctx.append(_resources(settings, clock=clock, catalog=resolved, deliver=deliver))
    app.router.add_post("/api/v1/releases", releases.post_release)
    app.router.add_get("/api/v1/releases", releases.get_releases)
    app.router.add_get("/api/v1/releases/{release_id}", releases.get_release)
    app.router.add_post("/api/v1/releases/{release_id}/events", releases.post_event)
    hooks.add_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if not settings.socket_mode:
        app.router.add_post("/slack/events", slack_events)
    return app


def build_slack_client(settings: Settings) -> AsyncWebClient:
    """Herald retries Slack itself (outbox); the SDK's own retries could post twice."""
    token = settings.slack_bot_token
    return AsyncWebClient(
        token=token.get_secret_value() if token else None,
        base_url=settings.slack_base_url(),
        timeout=int(settings.slack_timeout_seconds),
        retry_handlers=[],
    )


def build_argocd(settings: Settings, http: aiohttp.ClientSession) -> ArgoCDClient | None:
    if not settings.argocd_url:
        return None
    token = settings.argocd_token.get_secret_value() if settings.argocd_token else ""
    return ArgoCDClient(
        session=http,
        base_url=settings.argocd_url,
        token=token,
        timeout_seconds=settings.argocd_timeout_seconds,
    )


def _resources(
    settings: Settings, *, clock: Callable[[], datetime], catalog: Catalog, deliver: bool
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings.database_url)
        database = Database(create_engine(settings.database_url))
        client = build_slack_client(settings)
        delivery = SlackDelivery(
            database=database,
            client=client,
            clock=clock,
            poll_seconds=settings.delivery_poll_seconds,
        )
        channels = {"feed": settings.feed_channel or "", "ops": settings.ops_channel or ""}
        ledgers = LedgerFactory(
            database=database,
            render=render_notice,
            channels=channels,
            clock=clock,
            on_commit=delivery.wake,
        )
        app[DEPS] = Deps(settings, catalog, database, ledgers, client, delivery, clock)
        tasks = BackgroundTasks()
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(database.close)
            http = await stack.enter_async_context(aiohttp.ClientSession())
            ops = Operations(
                deploy=build_argocd(settings, http),
                groups=SlackGroupDirectory(client=client),
                releases=SqlReleaseReader(database=database),
                audit=SqlAuditLog(database=database),
                ledgers=ledgers,
                directory=build_directory(catalog),
                clock=clock,
                argocd_url=settings.argocd_url,
            )
            app[BOLT] = build_bolt_app(
                settings=settings,
                client=client,
                database=database,
                ops=ops,
                tasks=tasks,
                clock=clock,
            )
            stack.push_async_callback(tasks.drain)
            if database.sqlite:
                await outbox.release_stale_claims(database=database)
            if deliver:
                stack.push_async_callback(_cancel, asyncio.create_task(delivery.run()))
            if settings.socket_mode and settings.slack_app_token:
                handler = AsyncSocketModeHandler(
                    app[BOLT], settings.slack_app_token.get_secret_value()
                )
                await handler.connect_async()  # type: ignore[no-untyped-call]
                stack.push_async_callback(handler.close_async)
            yield

    return lifecycle


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Slack's Request URL. A non-numeric timestamp would crash Bolt (500): refuse it here."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not stamp.isdigit():
        return error_response(401, "missing or malformed X-Slack-Request-Timestamp")
    bolt_request = await to_bolt_request(request)
    bolt_response = await request.app[BOLT].async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    if not await deps.database.ping():
        return error_response(503, "database unreachable")
    return web.json_response({"status": "ready"})
