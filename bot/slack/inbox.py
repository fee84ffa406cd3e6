"""Bolt middleware: drop Slack retries and replays before any listener runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.observability import HeraldMetrics
from bot.slack.ids import INBOX_KEY
from bot.store.database import Database
from bot.store.inbox import record_once

log = logging.getLogger(__name__)


def inbox_key(body: dict[str, Any]) -> str | None:
    """The unique key of a Slack request: event id, or trigger id and action time."""
    if event_id := body.get("event_id"):
        return f"slack:event:{event_id}"
    actions = body.get("actions") or []
    if body.get("type") == "block_actions" and actions:
        return f"slack:action:{body.get('trigger_id')}:{actions[0].get('action_ts')}"
    if trigger_id := body.get("trigger_id"):
        return f"slack:trigger:{trigger_id}"
    return None


def kept_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """What is kept of a command or button press until its work is done (never the legacy
    verification token); other requests owe no work after their ack."""
    if "command" not in body and body.get("type") != "block_actions":
        return None
    return {name: value for name, value in body.items() if name != "token"}


def build_inbox_middleware(
    *,
    database: Database,
    clock: Callable[[], datetime],
    claimed_by: str | None,
    metrics: HeraldMetrics | None = None,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """`claimed_by`: the process that carries out what it records (None: a worker claims it)."""

    async def inbox_middleware(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        key = inbox_key(req.body)
        request = kept_request(req.body)
        if key and not await record_once(
            database=database,
            key=key,
            source="slack",
            now=clock(),
            request=request,
            claimed_by=claimed_by,
        ):
            retry = req.headers.get("x-slack-retry-num", ["0"])[0]
            log.info("dropped duplicate slack request", extra={"key": key, "retry_num": retry})
            if metrics is not None:
                metrics.inbox_duplicate("slack")
            return BoltResponse(status=200, body="")
        if key and request is not None:
            req.context[INBOX_KEY] = key
        return await next()

    return inbox_middleware
