"""Was an ambiguous post made after all? Its outbox id in the message metadata says so."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.store.outbox import Claim

log = logging.getLogger(__name__)

OUTBOX_KEY = "herald_outbox_id"  # in each post's metadata event_payload
HISTORY_PAGES = 10


async def find_posted(client: AsyncWebClient, claim: Claim, thread_ts: str | None) -> str | None:
    """After an ambiguous failure: was the message posted after all? Look for its metadata."""
    oldest = f"{(claim.created_at - timedelta(minutes=5)).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(HISTORY_PAGES):
        if thread_ts:
            response = await client.conversations_replies(
                channel=claim.channel,
                ts=thread_ts,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
        else:
            response = await client.conversations_history(
                channel=claim.channel,
                oldest=oldest,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
        if (ts := _find_outbox_id(response.get("messages") or [], claim.id)) is not None:
            log.info("found ambiguous post in history", extra={"outbox_id": claim.id})
            return ts
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    log.warning("history too long to search; posting again", extra={"outbox_id": claim.id})
    return None


def _find_outbox_id(messages: list[dict[str, Any]], outbox_id: int) -> str | None:
    for message in messages:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get(OUTBOX_KEY) == outbox_id:
            return str(message["ts"])
    return None
