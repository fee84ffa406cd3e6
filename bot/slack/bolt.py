"""The Bolt AsyncApp: built in a factory with explicit token and secret, never at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.catalog import Catalog
from bot.settings import Settings
from bot.slack.ids import Command
from bot.slack.inbox import build_inbox_middleware
from bot.slack.views import help_message
from bot.store.database import Database

log = logging.getLogger(__name__)


def build_bolt_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    database: Database,
    catalog: Catalog,
    clock: Callable[[], datetime],
) -> AsyncApp:
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    app.use(build_inbox_middleware(database=database, clock=clock))

    @app.command(Command.DEPLOY.value)
    async def deploy(ack: AsyncAck) -> None:
        await ack(help_message(sorted(catalog.services)))

    return app
