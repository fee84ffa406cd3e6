"""Composition root: builds every piece from Settings and wires them into one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.api import dora, hooks, metrics, releases, system
from bot.api.http import MAX_BODY_BYTES, correlation_middleware, error_middleware
from bot.api.system import BOLT
from bot.catalog import (
    Catalog,
    auto_rollback_enabled,
    build_directory,
    checkup_offsets,
    escalation_policy,
    load_catalog,
    service_queries,
)
from bot.catalog import routing_key as catalog_routing_key
from bot.deps import DEPS, Deps, utcnow
from bot.domain.checkup_runs import CheckupRunner, page_for_alert
from bot.domain.checkups import Judge
from bot.domain.commander import CommanderJob
from bot.domain.operations import Operations
from bot.domain.release_alerts import AlertDecision
from bot.integrations.argocd import ArgoCDClient
from bot.integrations.page_delivery import PageDelivery
from bot.integrations.pagerduty import PagerDutyClient
from bot.integrations.pagerduty_oncall import PagerDutyOnCallDirectory, PagerDutyRestClient
from bot.integrations.prometheus import PrometheusClient, PrometheusMetricsSource
from bot.observability import METRICS, HeraldMetrics
from bot.reports.jobs import DigestJob, WeeklyJob
from bot.scheduling import CheckupClock
from bot.settings import Settings
from bot.slack.blocks import render_notice
from bot.slack.bolt import build_bolt_app
from bot.slack.delivery import SlackDelivery
from bot.slack.groups import SlackGroupDirectory
from bot.slack.people import SlackPeople
from bot.slack.resume import CommandResumer
from bot.slack.tasks import BackgroundTasks
from bot.store import inbox, outbox
from bot.store.audit import SqlAuditLog
from bot.store.database import Database, create_engine
from bot.store.dora import dora_report
from bot.store.instance_lock import instance_lock
from bot.store.ledger import LedgerFactory
from bot.store.migrate import upgrade
from bot.store.releases import SqlReleaseReader

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
COMMANDER = web.AppKey("herald_commander", CommanderJob)  # names on-calls; tests run it


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
    metrics.add_routes(app)
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/readyz", system.readyz)
    if not settings.socket_mode:
        app.router.add_post("/slack/events", system.slack_events)
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


def build_oncall(
    settings: Settings, catalog: Catalog, *, http: aiohttp.ClientSession, slack: AsyncWebClient
) -> PagerDutyOnCallDirectory | None:
    """PagerDuty's on-call, when there is a REST token and a service with a policy."""
    token = settings.pagerduty_api_token
    if token is None or not any(s.pagerduty_escalation_policy for s in catalog.services.values()):
        return None
    rest = PagerDutyRestClient(
        session=http, base_url=settings.pagerduty_api_url, token=token.get_secret_value()
    )
    return PagerDutyOnCallDirectory(
        client=rest,
        people=SlackPeople(client=slack),
        policy_for=lambda service: escalation_policy(catalog, service),
    )


def build_judge(settings: Settings, catalog: Catalog, http: aiohttp.ClientSession) -> Judge:
    metrics = None
    if settings.prometheus_url:
        client = PrometheusClient(session=http, base_url=settings.prometheus_url)
        metrics = PrometheusMetricsSource(client)
    return Judge(metrics=metrics, queries_for=lambda service: service_queries(catalog, service))


def build_page_delivery(
    settings: Settings,
    catalog: Catalog,
    *,
    database: Database,
    http: aiohttp.ClientSession,
    clock: Clock,
) -> PageDelivery:
    default_key = settings.pagerduty_routing_key
    reader = SqlReleaseReader(database=database)

    async def routing_key_for(release_id: str) -> str | None:
        service = await reader.service_of(release_id)
        key = catalog_routing_key(catalog, service) if service else None
        return key or (default_key.get_secret_value() if default_key else None)

    pager = PagerDutyClient(session=http, events_url=settings.pagerduty_events_url, clock=clock)
    return PageDelivery(
        database=database,
        pager=pager,
        routing_key_for=routing_key_for,
        clock=clock,
        poll_seconds=settings.delivery_poll_seconds,
        message_links=reader.message_links,
    )


def _resources(
    settings: Settings, *, clock: Clock, catalog: Catalog, deliver: bool
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if (lock := instance_lock(settings.database_url)) is not None:
                lock.acquire()  # SQLite mode is one Herald
                stack.callback(lock.release)
            await asyncio.to_thread(upgrade, settings.database_url)
            database = Database(create_engine(settings.database_url))
            client = build_slack_client(settings)
            stack.push_async_callback(database.close)
            # 50 checkups × 8 queries may be in flight; aiohttp's default cap is 100 connections
            connector = aiohttp.TCPConnector(limit=400)
            http = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            pages = build_page_delivery(
                settings, catalog, database=database, http=http, clock=clock
            )
            metrics = app.get(METRICS) or HeraldMetrics()
            if METRICS not in app:
                app[METRICS] = metrics
            delivery = SlackDelivery(
                metrics=metrics,
                database=database,
                client=client,
                clock=clock,
                poll_seconds=settings.delivery_poll_seconds,
            )
            ledgers = LedgerFactory(
                database=database,
                render=render_notice,
                clock=clock,
                channels={"feed": settings.feed_channel or "", "ops": settings.ops_channel or ""},
                on_commit=_waker(delivery.wake, pages.wake),
                offsets=lambda service, env: checkup_offsets(catalog, service),
                change_events=sends_change_events(settings, catalog),
            )
            app[DEPS] = Deps(settings, catalog, database, ledgers, client, delivery, clock)
            if hooks.ALERT_PAGER not in app:  # tests may record decisions instead
                app[hooks.ALERT_PAGER] = partial_alert_pager(ledgers, clock)
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
            app[BOLT] = build_bolt_app(
                settings=settings,
                client=client,
                database=database,
                ops=ops,
                tasks=tasks,
                clock=clock,
                metrics=metrics,
            )
            stack.push_async_callback(tasks.drain)
            if deliver:
                runner = CheckupRunner(
                    judge=build_judge(settings, catalog, http),
                    operations=ops,
                    clock=clock,
                    auto_rollback_for=lambda service, env: auto_rollback_enabled(catalog, service),
                )
                digest = (
                    DigestJob(
                        database=database,
                        client=client,
                        audit=ops.audit,
                        channel=settings.digest_channel,
                        clock=clock,
                    )
                    if settings.digest_channel
                    else None
                )
                weekly = (
                    WeeklyJob(
                        database=database,
                        client=client,
                        audit=ops.audit,
                        channel=settings.feed_channel,
                        clock=clock,
                    )
                    if settings.feed_channel and settings.weekly_report_at
                    else None
                )
                await _start_workers(
                    stack,
                    settings,
                    database=database,
                    clock=clock,
                    workers=(delivery.run(), pages.run()),
                    runner=runner,
                    reports=(digest, weekly),
                    commander=_commander(app, ops),
                    resumer=CommandResumer(
                        database=database,
                        ops=ops,
                        tasks=tasks,
                        clock=clock,
                        grace=timedelta(seconds=settings.resume_grace_seconds),
                    ),
                )
            await _connect_socket_mode(stack, settings, app)
            yield

    return lifecycle


async def _start_workers(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    workers: tuple[Coroutine[Any, Any, None], ...],
    runner: CheckupRunner,
    reports: tuple[DigestJob | None, WeeklyJob | None] = (None, None),
    resumer: CommandResumer | None = None,
    commander: CommanderJob | None = None,
) -> None:
    """The outbox senders and the checkup clock; all stop with the app."""
    if database.sqlite:
        await outbox.release_stale_claims(database=database)
    for work in workers:
        task = asyncio.create_task(work, name=getattr(work, "__qualname__", None))
        stack.push_async_callback(_cancel, task)
    checkups = CheckupClock(
        database=database,
        runner=runner,
        clock=clock,
        interval_seconds=settings.checkup_interval_seconds,
        concurrency=settings.checkup_concurrency,
    )
    digest, weekly = reports
    if digest is not None:
        checkups.add_daily(digest.run, at=settings.digest_at, job_id="herald-digest")
    if weekly is not None and settings.weekly_report_at:
        checkups.add_weekly(weekly.run, at=settings.weekly_report_at, job_id="herald-weekly")
    if resumer is not None:
        checkups.add_interval(
            resumer.sweep,
            seconds=min(10.0, resumer.grace.total_seconds()),
            job_id="herald-resume",
        )
    if commander is not None:
        checkups.add_interval(commander.run, seconds=10, job_id="herald-commander")
    checkups.start()
    stack.callback(checkups.shutdown)


async def _connect_socket_mode(
    stack: contextlib.AsyncExitStack, settings: Settings, app: web.Application
) -> None:
    if settings.socket_mode and settings.slack_app_token:
        handler = AsyncSocketModeHandler(app[BOLT], settings.slack_app_token.get_secret_value())
        await handler.connect_async()  # type: ignore[no-untyped-call]
        stack.push_async_callback(handler.close_async)


def _commander(app: web.Application, ops: Operations) -> CommanderJob | None:
    if ops.oncall is None:
        return None
    app[COMMANDER] = CommanderJob(ops=ops, oncall=ops.oncall)
    return app[COMMANDER]


def partial_alert_pager(ledgers: LedgerFactory, clock: Clock) -> hooks.AlertPager:
    async def page(decision: AlertDecision) -> None:
        await page_for_alert(ledgers=ledgers, decision=decision, now=clock())

    return page


def sends_change_events(settings: Settings, catalog: Catalog) -> bool:
    """Deploys go on PagerDuty's timeline where a routing key is set (unless turned off)."""
    keyed = settings.pagerduty_routing_key is not None or any(
        entry.pagerduty_routing_key for entry in catalog.services.values()
    )
    return settings.pagerduty_change_events and keyed


def _finisher(database: Database, clock: Clock) -> Callable[[str], Awaitable[None]]:
    async def finish(key: str) -> None:
        await inbox.finish(database=database, key=key, now=clock())

    return finish


def _waker(*wakes: Callable[[], None]) -> Callable[[], None]:
    def wake_all() -> None:
        for wake in wakes:
            wake()

    return wake_all


async def _cancel(task: asyncio.Task[None]) -> None:
    """Stop a worker; shutdown goes on (and says so) if it does not stop within 10 s."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:
        log.error("worker %s did not stop within 10 s of shutdown", task.get_name())
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.error("worker %s had failed", task.get_name(), exc_info=error)
