"""Each adapter built from Settings (and the catalogue); bot/app.py puts them together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.api import hooks
from bot.catalog import Catalog, escalation_policy, service_queries, watch_config
from bot.catalog import routing_key as catalog_routing_key
from bot.domain.checkup.checkup import Judge
from bot.domain.checkup.escalation import page_for_alert
from bot.domain.deploy.context import Operations
from bot.domain.signals.alert_rollback import PolicyFor, roll_back_on_alert
from bot.domain.signals.alerts import AlertDecision
from bot.domain.watch.run import WatchRunner
from bot.domain.watch.watch import WatchConfig
from bot.integrations.argocd import ArgoCDClient
from bot.integrations.error_budget import PrometheusBurn
from bot.integrations.page_delivery import DeadNote, PageDelivery
from bot.integrations.pagerduty import PagerDutyClient
from bot.integrations.pagerduty_oncall import PagerDutyOnCallDirectory, PagerDutyRestClient
from bot.integrations.prometheus import PrometheusClient, PrometheusMetricsSource
from bot.settings import Settings
from bot.slack.dead_letters import page_note
from bot.slack.people import SlackPeople
from bot.store.database import Database
from bot.store.outbox import Claim, Note
from bot.store.releases import SqlReleaseReader
from bot.store.retention import RetentionPolicy

Clock = Callable[[], datetime]


def build_slack_client(
    settings: Settings, *, http: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Herald retries Slack itself (outbox); the SDK's own retries could post twice. On
    Herald's `http` session the calls reuse kept-alive connections: without one, the SDK
    opens a session, a TCP connection and a TLS handshake for every call."""
    token = settings.slack_bot_token
    return AsyncWebClient(
        token=token.get_secret_value() if token else None,
        base_url=settings.slack_base_url(),
        timeout=int(settings.slack_timeout_seconds),
        retry_handlers=[],
        session=http,
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


def build_metrics_source(
    settings: Settings, http: aiohttp.ClientSession
) -> PrometheusMetricsSource | None:
    """Prometheus, for the checkups and the watches; None where PROMETHEUS_URL is not set."""
    if not settings.prometheus_url:
        return None
    return PrometheusMetricsSource(PrometheusClient(session=http, base_url=settings.prometheus_url))


def build_burn_gauge(
    settings: Settings, catalog: Catalog, http: aiohttp.ClientSession
) -> PrometheusBurn | None:
    """The error-budget burn the approval checklist shows; None without PROMETHEUS_URL."""
    if not settings.prometheus_url:
        return None
    # an approver waits for the checklist: a slow Prometheus says "unknown", it does not hold it
    client = PrometheusClient(
        session=http, base_url=settings.prometheus_url, timeout_seconds=2.0, retries=0
    )
    return PrometheusBurn(client, queries=lambda service: service_queries(catalog, service))


def build_judge(catalog: Catalog, metrics: PrometheusMetricsSource | None) -> Judge:
    return Judge(metrics=metrics, queries_for=lambda service: service_queries(catalog, service))


def build_watch_runner(
    catalog: Catalog, metrics: PrometheusMetricsSource | None, ops: Operations
) -> WatchRunner | None:
    """The early and recovery watches' runner; None without Prometheus (nothing to judge)."""
    if metrics is None:
        return None
    return WatchRunner(
        source=metrics,
        operations=ops,
        config_for=lambda service, env: watch_config(catalog, service, env) or WatchConfig(),
    )


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
        dead_note=partial_page_note(settings.ops_channel or ""),
    )


def partial_page_note(ops_channel: str) -> DeadNote:
    """The note about a dead page, in the release's ops thread (bot/slack/dead_letters.py)."""

    def note(claim: Claim, error: str) -> Note | None:
        return page_note(claim, error=error, ops_channel=ops_channel)

    return note


def partial_alert_pager(
    ops: Operations, *, policy_for: PolicyFor, clock: Clock
) -> hooks.AlertPager:
    """Page on a critical release alert, then roll back where the service's policy says so."""

    async def page(decision: AlertDecision) -> None:
        await page_for_alert(ledgers=ops.ledgers, decision=decision, now=clock())
        await roll_back_on_alert(ops, decision=decision, policy_for=policy_for)

    return page


def sends_change_events(settings: Settings, catalog: Catalog) -> bool:
    """Deploys go on PagerDuty's timeline where a routing key is set (unless turned off)."""
    keyed = settings.pagerduty_routing_key is not None or any(
        entry.pagerduty_routing_key for entry in catalog.services.values()
    )
    return settings.pagerduty_change_events and keyed


def build_retention_policy(settings: Settings) -> RetentionPolicy:
    """The settings' retention in days; 0 keeps those rows for ever."""

    def kept(days: float) -> timedelta | None:
        return timedelta(days=days) if days > 0 else None

    return RetentionPolicy(
        inbox=kept(settings.retention_inbox_days),
        outbox=kept(settings.retention_outbox_days),
        batch=settings.retention_batch,
    )
