"""Composition root: builds every piece from Settings and wires them into one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.api import dora, hooks, metrics, openapi, releases, system
from bot.api import outbox as outbox_api
from bot.api.http import MAX_BODY_BYTES, correlation_middleware, error_middleware
from bot.api.system import BOLT
from bot.catalog import (
    Catalog,
    auto_rollback_enabled,
    auto_rollback_policy,
    build_directory,
    checkup_offsets,
    load_catalog,
    watch_config,
)
from bot.deps import DEPS, Deps, utcnow
from bot.domain.checkup.run import CheckupRunner
from bot.domain.deploy.commander import CommanderJob
from bot.domain.deploy.context import Operations
from bot.domain.reports.schedule import ReportSchedule
from bot.domain.signals.alert_rollback import resume_alert_rollbacks
from bot.factories import (
    build_argocd,
    build_judge,
    build_metrics_source,
    build_oncall,
    build_page_delivery,
    build_retention_policy,
    build_slack_client,
    build_watch_runner,
    partial_alert_pager,
    sends_change_events,
)
from bot.integrations.page_delivery import PageDelivery
from bot.observability import METRICS, HeraldMetrics
from bot.reports.jobs import DigestReport, WeeklyReport
from bot.reports.periods import Report, ScheduledReport
from bot.scheduling import CheckupClock
from bot.settings import Settings
from bot.slack.blocks import render_notice
from bot.slack.bolt import build_bolt_app
from bot.slack.delivery import SlackDelivery
from bot.slack.digest import digest_message
from bot.slack.groups import SlackGroupDirectory
from bot.slack.responses import Responder
from bot.slack.resume import CommandResumer
from bot.slack.tasks import BackgroundTasks
from bot.store import inbox, outbox
from bot.store.audit import SqlAuditLog
from bot.store.database import Database, create_engine
from bot.store.dora import dora_report
from bot.store.instance_lock import instance_lock
from bot.store.ledger import LedgerFactory, WatchConfigs
from bot.store.migrate import upgrade
from bot.store.releases import SqlReleaseReader
from bot.store.retention import RetentionJob
from bot.watching import JOB_ID as WATCH_JOB
from bot.watching import WatchTicker

log = logging.getLogger(__name__)
ROLLBACK_GRACE = timedelta(minutes=2)  # an alert's rollback unfinished after this was cut short
DIGESTS_CAUGHT_UP, WEEKLIES_CAUGHT_UP = 7, 2  # missed periods still sent late, at most
Clock = Callable[[], datetime]
COMMANDER = web.AppKey("herald_commander", CommanderJob)  # names on-calls; tests run it
RETENTION = web.AppKey("herald_retention", RetentionJob)  # prunes the inbox and the outbox
RETENTION_EVERY = 3600.0  # seconds; the first run is at start-up


def build_app(
    settings: Settings,
    *,
    clock: Clock = utcnow,
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
    dora.add_routes(app)
    outbox_api.add_routes(app)
    metrics.add_routes(app)
    openapi.add_routes(app)
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/readyz", system.readyz)
    if not settings.socket_mode:
        app.router.add_post("/slack/events", system.slack_events)
    return app


@dataclass(frozen=True)
class _Core:
    """What every part of a running Herald shares."""

    database: Database
    client: AsyncWebClient
    http: aiohttp.ClientSession
    delivery: SlackDelivery
    pages: PageDelivery
    ledgers: LedgerFactory
    ops: Operations
    tasks: BackgroundTasks
    responder: Responder  # answers slash commands and buttons over `http`


def _resources(
    settings: Settings, *, clock: Clock, catalog: Catalog, deliver: bool
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            database = await _open_store(stack, settings)
            connector = aiohttp.TCPConnector(limit=400)  # 50 checkups × 8 queries in flight
            http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            core = _build_core(
                app, settings, catalog=catalog, database=database, http=http, clock=clock
            )
            app[DEPS] = Deps(settings, catalog, database, core.ledgers, core.client, clock)
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
                tasks=core.tasks,
                clock=clock,
                responder=core.responder,
                metrics=app[METRICS],
            )
            stack.push_async_callback(core.tasks.drain)
            if deliver:
                await _start_workers(stack, app, settings, catalog=catalog, core=core, clock=clock)
            await _connect_socket_mode(stack, settings, app)
            yield

    return lifecycle


async def _open_store(stack: contextlib.AsyncExitStack, settings: Settings) -> Database:
    """Lock (SQLite mode is one Herald), migrate, connect; closed with the app."""
    if (lock := instance_lock(settings.database_url)) is not None:
        lock.acquire()
        stack.callback(lock.release)
    await asyncio.to_thread(upgrade, settings.database_url)
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
) -> _Core:
    client = build_slack_client(settings)
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
        on_commit=_waker(delivery.wake, pages.wake),
        offsets=lambda service, env: checkup_offsets(catalog, service),
        watch_configs=_watch_configs(settings, catalog),
        change_events=sends_change_events(settings, catalog),
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
        oncall=build_oncall(settings, catalog, http=http, slack=client),
    )
    tasks = BackgroundTasks(finish=_finisher(database, clock))
    return _Core(database, client, http, delivery, pages, ledgers, ops, tasks, Responder(http))


async def _start_workers(
    stack: contextlib.AsyncExitStack,
    app: web.Application,
    settings: Settings,
    *,
    catalog: Catalog,
    core: _Core,
    clock: Clock,
) -> None:
    """The outbox senders, the checkup clock and the periodic jobs; all stop with the app."""
    if core.database.sqlite:
        await outbox.release_stale_claims(database=core.database)
    for worker in (core.delivery, core.pages):
        task = asyncio.create_task(worker.run(), name=type(worker).__name__)
        stack.push_async_callback(_stop, worker, task)
    metrics = build_metrics_source(settings, core.http)
    runner = CheckupRunner(
        judge=build_judge(catalog, metrics),
        operations=core.ops,
        clock=clock,
        auto_rollback_for=lambda service, env: auto_rollback_enabled(catalog, service),
    )
    checkups = CheckupClock(
        database=core.database,
        runner=runner,
        clock=clock,
        interval_seconds=settings.checkup_interval_seconds,
        concurrency=settings.checkup_concurrency,
        max_attempts=settings.checkup_max_attempts,
        jobs=app[METRICS],
    )
    _add_jobs(checkups, app, settings, core=core, clock=clock)
    _add_retention(checkups, app, settings, database=core.database, clock=clock)
    if (watcher := build_watch_runner(catalog, metrics, core.ops)) is not None:
        ticker = WatchTicker(
            database=core.database,
            runner=watcher,
            clock=clock,
            concurrency=settings.checkup_concurrency,
        )
        checkups.add_interval(ticker.tick, seconds=settings.watch_tick_seconds, job_id=WATCH_JOB)
    checkups.start()
    stack.push_async_callback(checkups.stop)


def _add_jobs(
    checkups: CheckupClock,
    app: web.Application,
    settings: Settings,
    *,
    core: _Core,
    clock: Clock,
) -> None:
    """Reports on their schedules; resuming cut-short commands; naming on-call commanders."""
    every = settings.checkup_interval_seconds * 6  # 30 s by default
    for report in _reports(settings, core=core, clock=clock):
        checkups.add_interval(report.run, seconds=every, job_id=f"herald-{report.report.kind}")
    grace = timedelta(seconds=settings.resume_grace_seconds)
    resumer = CommandResumer(
        database=core.database,
        ops=core.ops,
        tasks=core.tasks,
        clock=clock,
        responder=core.responder,
        grace=grace,
    )
    checkups.add_interval(
        resumer.sweep, seconds=min(10.0, grace.total_seconds()), job_id="herald-resume"
    )
    resume_rollbacks = partial(resume_alert_rollbacks, core.ops, older_than=ROLLBACK_GRACE)
    checkups.add_interval(resume_rollbacks, seconds=every, job_id="herald-alert-rollbacks")
    if core.ops.oncall is not None:
        app[COMMANDER] = CommanderJob(ops=core.ops, oncall=core.ops.oncall)
        checkups.add_interval(app[COMMANDER].run, seconds=10, job_id="herald-commander")


def _reports(settings: Settings, *, core: _Core, clock: Clock) -> list[ScheduledReport]:
    """The digest and the weekly report where they have a channel: each period sent once,
    through the outbox; one missed while Herald was down is sent late on start."""
    reports: list[tuple[Report, ReportSchedule, str]] = []
    if settings.digest_channel:
        digest = DigestReport(database=core.database, render=digest_message)
        schedule = ReportSchedule.daily(settings.digest_at, catch_up=DIGESTS_CAUGHT_UP)
        reports.append((digest, schedule, settings.digest_channel))
    if settings.feed_channel and settings.weekly_report_at:
        weekly = WeeklyReport(database=core.database)
        schedule = ReportSchedule.weekly(settings.weekly_report_at, catch_up=WEEKLIES_CAUGHT_UP)
        reports.append((weekly, schedule, settings.feed_channel))
    return [
        ScheduledReport(
            report=report,
            schedule=schedule,
            channel=channel,
            database=core.database,
            audit=core.ops.audit,
            clock=clock,
            wake=core.delivery.wake,
        )
        for report, schedule, channel in reports
    ]


def _add_retention(
    checkups: CheckupClock,
    app: web.Application,
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
) -> None:
    """Hourly, the inbox and outbox rows past their retention are pruned in small batches."""
    app[RETENTION] = RetentionJob(
        database=database,
        policy=build_retention_policy(settings),
        clock=clock,
        count=app[METRICS].rows_pruned,
    )
    checkups.add_interval(app[RETENTION].run, seconds=RETENTION_EVERY, job_id="herald-retention")


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


def _waker(*wakes: Callable[[], None]) -> Callable[[], None]:
    def wake_all() -> None:
        for wake in wakes:
            wake()

    return wake_all


async def _stop(worker: SlackDelivery | PageDelivery, task: asyncio.Task[None]) -> None:
    """Ask a worker to stop after the message in hand (cancelling it mid-write could leave
    a SQLite transaction open); cancel it if it has not stopped within 10 s."""
    worker.stop()
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:
        log.error("worker %s did not stop within 10 s of shutdown; cancelled", task.get_name())
        task.cancel()
        await asyncio.wait({task}, timeout=10)
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.error("worker %s had failed", task.get_name(), exc_info=error)
