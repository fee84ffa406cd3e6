"""`herald check-config`: every problem with the settings and the catalogue, at once."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.catalog import CatalogError, load_catalog
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
    ):
        if url and urlparse(url).scheme not in ("http", "https"):
            problems.append(f"{name} must be an http(s) URL, got {url!r}")
    try:
        make_url(settings.database_url)
    except ArgumentError:
        problems.append(f"HERALD_DATABASE_URL is not a database URL: {settings.database_url!r}")
    try:
        load_catalog(settings.config_path)
    except CatalogError as exc:
        problems += [f"HERALD_CONFIG {p.path}: {p.message}" for p in exc.problems]
    return problems
