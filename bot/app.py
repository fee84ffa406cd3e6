"""Composition root: builds every piece from Settings and wires them into one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.api import calendar as calendar_api
from bot.api import dora, hooks, metrics, openapi, releases, system
from bot.api import outbox as outbox_api
from bot.api.http import MAX_BODY_BYTES, correlation_middleware, error_middleware
from bot.api.system import BOLT
from bot.catalog import (
    Catalog,
    auto_rollback_policy,
    build_directory,
    checkup_offsets,
    load_catalog,
    watch_config,
)
from bot.catalog_freezes import build_freeze_calendar
from bot.channels import service_channels
from bot.core import Core, Role
from bot.deps import DEPS, Deps, utcnow
from bot.domain.deploy.context import Operations
from bot.factories import (
    build_argocd,
    build_burn_gauge,
    build_oncall,
    build_page_delivery,
    build_slack_client,
    partial_alert_pager,
    sends_change_events,
)
from bot.integrations.page_delivery import PageDelivery
from bot.observability import METRICS, HeraldMetrics
from bot.settings import Settings
from bot.slack.blocks import render_notice
from bot.slack.bolt import build_bolt_app
from bot.slack.command_queue import this_process
from bot.slack.delivery import SlackDelivery
from bot.slack.groups import SlackGroupDirectory
from bot.slack.home_refresh import HomeViewers
from bot.slack.responses import Responder
from bot.slack.tasks import BackgroundTasks, Dispatch
from bot.store import inbox
from bot.store.audit import SqlAuditLog
from bot.store.calendar import calendar_entries
from bot.store.database import Database, create_engine
from bot.store.dms import SqlDmBook
from bot.store.dora import dora_report
from bot.store.freezes import SqlFreezeBook
from bot.store.instance_lock import instance_lock
from bot.store.ledger import WatchConfigs
from bot.store.ledgers import LedgerFactory
from bot.store.migrate import upgrade_if_behind
from bot.store.pages import PAGERDUTY_CHANNEL
from bot.store.releases import SqlReleaseReader
from bot.workers import start_workers

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Nudge = Callable[[], None]


def build_app(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    catalog: Catalog | None = None,
    deliver: bool = True,
    role: Role = Role.ALL,
    nudge: Nudge | None = None,
    nudged: asyncio.Event | None = None,
    migrate_in_child: bool = False,
) -> web.Application:
    """The whole HTTP surface of `herald serve`; resources open and close with the app.
    With `herald serve --workers N` (bot/serving), the server is `role` FRONT and calls
    `nudge` when it recorded work; each worker is `role` WORKER, told by `nudged`.
    `migrate_in_child`: a database behind is migrated by a process of its own
    (bot/store/migrate.py), as `herald serve` does."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[correlation_middleware, error_middleware]
    )
    resolved = catalog if catalog is not None else load_catalog(settings.config_path)
    split = _Split(role, nudge or (lambda: None), nudged, migrate_in_child)
    app.cleanup_ctx.append(
        _resources(settings, clock=clock, catalog=resolved, deliver=deliver, split=split)
    )
    app.router.add_post("/api/v1/releases", releases.post_release)
    app.router.add_get("/api/v1/releases", releases.get_releases)
    app.router.add_get("/api/v1/releases/{release_id}", releases.get_release)
    app.router.add_get("/api/v1/releases/{release_id}/gate", releases.get_gate)
    app.router.add_post("/api/v1/releases/{release_id}/rehearsals", releases.post_rehearsal)
    app.router.add_post("/api/v1/releases/{release_id}/events", releases.post_event)
    hooks.add_routes(app)
    dora.add_routes(app)
    calendar_api.add_routes(app)
    outbox_api.add_routes(app)
    metrics.add_routes(app)
    openapi.add_routes(app)
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/readyz", system.readyz)
    if not settings.socket_mode:
        app.router.add_post("/slack/events", system.slack_events)
    return app


@dataclass(frozen=True)
class _Split:
    role: Role
    nudge: Nudge  # FRONT: tell the workers there is work
    nudged: asyncio.Event | None  # WORKER: set when told
    migrate_in_child: bool  # FRONT or ALL: migrate in a process of its own


def _resources(
    settings: Settings, *, clock: Clock, catalog: Catalog, deliver: bool, split: _Split
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            front = split.role is Role.FRONT
            database = await _open_store(
                stack,
                settings,
                first=split.role is not Role.WORKER,
                in_child=split.migrate_in_child,
            )
            connector = aiohttp.TCPConnector(limit=400)  # 50 checkups × 8 queries in flight
            http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            core = _build_core(
                app,
                settings,
                catalog=catalog,
                database=database,
                http=http,
                clock=clock,
                wake=split.nudge,
            )
            app[DEPS] = Deps(
                settings, catalog, database, core.ledgers, core.client, clock, core.ops.freezes
            )
            if hooks.ALERT_PAGER not in app:  # tests may record decisions instead
                app[hooks.ALERT_PAGER] = partial_alert_pager(
                    core.ops,
                    policy_for=lambda service, env: auto_rollback_policy(catalog, service),
                    clock=clock,
                )
            app[BOLT] = build_bolt_app(
                settings=settings,
                client=core.client,
                database=database,
                ops=core.ops,
                dispatch=Dispatch(core.tasks, nudge=split.nudge if front else None),
                clock=clock,
                responder=core.responder,
                claimed_by=None if front else this_process(),
                metrics=app[METRICS],
                homes=core.homes,
            )
            stack.push_async_callback(core.tasks.drain)
            if deliver and not front:
                await start_workers(
                    stack,
                    app,
                    settings,
                    catalog=catalog,
                    core=core,
                    clock=clock,
                    nudged=split.nudged,
                )
            await _connect_socket_mode(stack, settings, app)
            yield

    return lifecycle


async def _open_store(
    stack: contextlib.AsyncExitStack, settings: Settings, *, first: bool, in_child: bool
) -> Database:
    """Lock (SQLite mode is one Herald), migrate (`in_child`: in a process of its own),
    connect; closed with the app. A worker process (not `first`) belongs to the server that
    did the first two."""
    if first and (lock := instance_lock(settings.database_url)) is not None:
        lock.acquire()
        stack.callback(lock.release)
    if first:
        await asyncio.to_thread(upgrade_if_behind, settings.database_url, in_child=in_child)
    database = Database(create_engine(settings.database_url))
    stack.push_async_callback(database.close)
    return database


def _build_core(
    app: web.Application,
    settings: Settings,
    *,
    catalog: Catalog,
    database: Database,
    http: aiohttp.ClientSession,
    clock: Clock,
    wake: Callable[[], None],
) -> Core:
    client = build_slack_client(settings, http=http)
    pages = build_page_delivery(settings, catalog, database=database, http=http, clock=clock)
    if METRICS not in app:
        app[METRICS] = HeraldMetrics()
    delivery = SlackDelivery(
        metrics=app[METRICS],
        database=database,
        client=client,
        clock=clock,
        poll_seconds=settings.delivery_poll_seconds,
        give_up_after=timedelta(seconds=settings.delivery_give_up_seconds),
    )
    ledgers = LedgerFactory(
        database=database,
        render=render_notice,
        clock=clock,
        channels={"feed": settings.feed_channel or "", "ops": settings.ops_channel or ""},
        on_commit=_waker(delivery, pages, wake),
        offsets=lambda service, env: checkup_offsets(catalog, service),
        watch_configs=_watch_configs(settings, catalog),
        change_events=sends_change_events(settings, catalog),
        service_channels=service_channels(catalog),
    )
    ops = Operations(
        deploy=build_argocd(settings, http),
        groups=SlackGroupDirectory(client=client),
        releases=SqlReleaseReader(database=database),
        audit=SqlAuditLog(database=database),
        ledgers=ledgers,
        directory=build_directory(catalog),
        clock=clock,
        argocd_url=settings.argocd_url,
        dora=partial(dora_report, database),
        calendar=partial(calendar_entries, database),
        oncall=build_oncall(settings, catalog, http=http, slack=client),
        freezes=SqlFreezeBook(database=database, catalogue=build_freeze_calendar(catalog.freezes)),
        burn=build_burn_gauge(settings, catalog, http),
        dms=SqlDmBook(database=database),
    )
    tasks = BackgroundTasks(finish=_finisher(database, clock), outcome=app[METRICS].command_done)
    homes = HomeViewers(ops=ops, client=client, clock=clock)
    return Core(
        database, client, http, delivery, pages, ledgers, ops, tasks, Responder(http), homes
    )


async def _connect_socket_mode(
    stack: contextlib.AsyncExitStack, settings: Settings, app: web.Application
) -> None:
    if settings.socket_mode and settings.slack_app_token:
        handler = AsyncSocketModeHandler(app[BOLT], settings.slack_app_token.get_secret_value())
        await handler.connect_async()  # type: ignore[no-untyped-call]
        stack.push_async_callback(handler.close_async)


def _watch_configs(settings: Settings, catalog: Catalog) -> WatchConfigs:
    """Which services are watched: all but those whose `watch` is off, once Prometheus is set."""
    if not settings.prometheus_url:
        return lambda service, env: None
    return lambda service, env: watch_config(catalog, service, env)


def _finisher(database: Database, clock: Clock) -> Callable[[str], Awaitable[None]]:
    async def finish(key: str) -> None:
        await inbox.finish(database=database, key=key, now=clock())

    return finish


def _waker(
    delivery: SlackDelivery, pages: PageDelivery, wake: Callable[[], None]
) -> Callable[[Collection[str]], None]:
    """After a commit: wake the senders of the channels it wrote to, and `wake` (the split's
    nudge to its workers)."""

    def wake_senders(channels: Collection[str]) -> None:
        delivery.wake(channels)
        if PAGERDUTY_CHANNEL in channels:
            pages.wake()
        wake()

    return wake_senders
