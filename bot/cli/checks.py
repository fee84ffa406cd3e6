"""`herald check-config`: every problem with the settings and the catalogue, at once."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import aiohttp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.catalog import Catalog, CatalogError, build_directory, load_catalog
from bot.domain.deploy.tool import DeployToolError
from bot.integrations.argocd import ArgoCDClient
from bot.settings import PLACEHOLDERS, Settings


def find_problems(settings: Settings, *, for_serve: bool) -> list[str]:
    """Human sentences, one per problem, each naming the setting to fix."""
    problems: list[str] = []
    required = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "HERALD_INGEST_TOKEN": settings.ingest_token,
    }
    if not settings.socket_mode:
        required["SLACK_SIGNING_SECRET"] = settings.slack_signing_secret
    for name, secret in required.items():
        if for_serve and secret is None:
            problems.append(f"{name} is not set")
        elif secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDERS:
            problems.append(f"{name} is still a placeholder value")
    if settings.slack_bot_token and not settings.slack_bot_token.get_secret_value().startswith(
        "xoxb-"
    ):
        problems.append("SLACK_BOT_TOKEN should be a bot token (xoxb-…)")
    if settings.slack_app_token and not settings.slack_app_token.get_secret_value().startswith(
        "xapp-"
    ):
        problems.append("SLACK_APP_TOKEN should be an app-level token (xapp-…)")
    for name, channel in (
        ("HERALD_FEED_CHANNEL", settings.feed_channel),
        ("HERALD_OPS_CHANNEL", settings.ops_channel),
    ):
        if for_serve and not channel:
            problems.append(f"{name} is not set (a channel id such as C0123ABCD)")
    for name, url in (
        ("SLACK_API_URL", settings.slack_api_url),
        ("ARGOCD_URL", settings.argocd_url),
        ("PROMETHEUS_URL", settings.prometheus_url),
        ("PAGERDUTY_EVENTS_URL", settings.pagerduty_events_url),
        ("PAGERDUTY_API_URL", settings.pagerduty_api_url),
    ):
        if url and urlparse(url).scheme not in ("http", "https"):
            problems.append(f"{name} must be an http(s) URL, got {url!r}")
    try:
        make_url(settings.database_url)
    except ArgumentError:
        problems.append(f"HERALD_DATABASE_URL is not a database URL: {settings.database_url!r}")
    try:
        catalog = load_catalog(settings.config_path)
    except CatalogError as exc:
        problems += [f"HERALD_CONFIG {p.path}: {p.message}" for p in exc.problems]
    else:
        problems += _on_call_problems(settings, catalog)
    return problems


def _on_call_problems(settings: Settings, catalog: Catalog) -> list[str]:
    """An escalation policy is only read with a PagerDuty REST API token."""
    token = settings.pagerduty_api_token
    if token is not None:
        if token.get_secret_value().strip().lower() in PLACEHOLDERS:
            return ["PAGERDUTY_API_TOKEN is still a placeholder value"]
        return []
    return [
        f"HERALD_CONFIG services.{name}.pagerduty_escalation_policy is set but "
        "PAGERDUTY_API_TOKEN is not, so Herald cannot tell who is on call"
        for name, service in catalog.services.items()
        if service.pagerduty_escalation_policy
    ]


async def find_online_problems(settings: Settings) -> list[str]:
    """`check-config --online`: every Argo CD app and Rollout in the catalogue is reachable."""
    if not settings.argocd_url:
        return ["ARGOCD_URL is not set, so the Argo CD apps cannot be checked"]
    try:
        directory = build_directory(load_catalog(settings.config_path))
    except CatalogError:
        return []  # already reported offline
    token = settings.argocd_token.get_secret_value() if settings.argocd_token else ""
    problems: list[str] = []
    async with aiohttp.ClientSession() as session:
        client = ArgoCDClient(
            session=session,
            base_url=settings.argocd_url,
            token=token,
            timeout_seconds=settings.argocd_timeout_seconds,
        )
        for entry in directory.services.values():
            for where in entry.envs.values():
                if where.target is None:
                    continue
                label = f"{where.service} {where.env}"
                try:
                    await client.get_app(where.target)
                    if where.target.rollout is not None:
                        await client.get_rollout(where.target)
                except DeployToolError as exc:
                    problems.append(f"{label}: {exc.message}")
    return problems


def run_online_checks(settings: Settings) -> list[str]:
    return asyncio.run(find_online_problems(settings))
