"""The Bolt AsyncApp: built in a factory with explicit token and secret, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations
from bot.observability import HeraldMetrics
from bot.settings import Settings
from bot.slack.home_refresh import HomeViewers
from bot.slack.inbox import build_inbox_middleware
from bot.slack.listeners import register
from bot.slack.responses import Responder
from bot.slack.tasks import Dispatch
from bot.store.database import Database


def build_bolt_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    database: Database,
    ops: Operations,
    dispatch: Dispatch,
    clock: Callable[[], datetime],
    responder: Responder,
    claimed_by: str | None,
    metrics: HeraldMetrics | None = None,
    homes: HomeViewers,
) -> AsyncApp:
    """`claimed_by`: the name of the process that carries out the work it acks, or None
    when a worker process claims it from the inbox."""
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=True,  # listeners ack first and hand slow work to tasks
        raise_error_for_unhandled_request=False,
    )
    app.use(
        build_inbox_middleware(
            database=database, clock=clock, claimed_by=claimed_by, metrics=metrics
        )
    )
    register(app, ops=ops, dispatch=dispatch, responder=responder, homes=homes)
    return app
