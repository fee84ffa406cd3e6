"""Edits of keyed messages: an outbox update becomes `chat.update` on the message the
release posted under that key (docs/architecture.md §4.3).

An edit is idempotent: sending the same content again leaves the same one message. So an
update whose last try was ambiguous (a 5xx, a timeout, a lease that ran out) is just sent
again, with no search of the channel history as an ambiguous post needs.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import HeraldMetrics
from bot.slack.web_api import observed
from bot.store.database import Database
from bot.store.keyed_messages import PostedMessage, find_keyed_message, keyed_post_is_coming
from bot.store.outbox import Claim


class KeyedPostComing(Exception):
    """The message this update edits is still waiting in the outbox to be posted."""


class KeyedMessageMissing(Exception):
    """No message was posted under the update's key, and none is coming: nothing to edit."""


async def edit_keyed_message(
    *,
    database: Database,
    client: AsyncWebClient,
    claim: Claim,
    metrics: HeraldMetrics | None = None,
) -> str:
    """Put the claimed update's content into its message; the message's ts.

    Raises KeyedPostComing or KeyedMessageMissing before any call to Slack, and whatever the
    Slack client raises for a failed call."""
    target = await _target(database, claim)
    body = claim.body
    response = await observed(
        metrics, "chat.update", _chat_update(client, target=target, body=body)
    )
    return str(response.get("ts") or target.ts)


async def _target(database: Database, claim: Claim) -> PostedMessage:
    release_id, role = claim.release_id, claim.role
    found = await find_keyed_message(
        database=database, release_id=release_id, role=role, before=claim.id
    )
    if found is not None:
        return found
    if await keyed_post_is_coming(
        database=database, release_id=release_id, role=role, before=claim.id
    ):
        raise KeyedPostComing
    raise KeyedMessageMissing(
        f"release {release_id} has no message under key {role!r} to update "
        "(its post failed for good, or none was enqueued before this update)"
    )


async def _chat_update(
    client: AsyncWebClient, *, target: PostedMessage, body: dict[str, Any]
) -> Any:
    """The new content replaces the old: no blocks clears the old blocks; metadata is kept
    when the update has none (Slack keeps what an edit leaves out)."""
    return await client.chat_update(
        channel=target.channel,
        ts=target.ts,
        text=body.get("text", ""),
        blocks=body.get("blocks") or [],
        metadata=body.get("metadata"),
    )
