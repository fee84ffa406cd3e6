"""Answering a slash command or a button press through its `response_url`.

Bolt's `respond` opens a new HTTP session, so a new TCP (and in production TLS) connection,
for every answer; Herald answers over the one session it already keeps open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger(__name__)
Respond = Callable[[dict[str, Any]], Awaitable[Any]]  # a message → posted to response_url


class Responder:
    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session

    def for_request(self, body: dict[str, Any]) -> Respond:
        """How to answer the request `body` (a slash command or a block action)."""
        url = body.get("response_url")

        async def respond(message: dict[str, Any]) -> Any:
            if not url:
                log.warning("cannot answer: the request carries no response_url")
                return None
            return await AsyncWebhookClient(url=url, session=self._session).send_dict(message)

        return respond
