"""Messages a release owns under a key: where they landed, and their updates in the outbox.

A keyed message is posted once (an outbox row with `operation="post"` and `role=<key>`) and
changed by later rows with `operation="update"` under the same role, queued behind the post
in its channel. Only the newest content of a message matters, so enqueueing an update
replaces the ones still pending for the same message; one a sender has claimed is left
alone (it may be in flight already).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.outbox import OPEN_STATES, POST, UPDATE
from bot.store.tables import OutboxRow, SlackMessageRow


@dataclass(frozen=True)
class PostedMessage:
    """Where a keyed message is in Slack."""

    channel: str
    ts: str


async def queue_update(session: AsyncSession, *, release_id: str, role: str, channel: str) -> str:
    """Where an update of the `role` message waits, in the caller's transaction: the queue of
    the message's post (so it leaves after it, even if the audience's channel changed), else
    `channel`. Its pending updates there are marked `replaced`: the newest content will do."""
    queue = await posted_in(session, release_id=release_id, role=role) or channel
    await replace_pending_updates(session, release_id=release_id, channel=queue, role=role)
    return queue


async def posted_in(session: AsyncSession, *, release_id: str, role: str) -> str | None:
    """The channel of the message's latest post, by outbox id: from its outbox row, or from
    the message it left once retention pruned that row (bot/store/retention.py)."""
    queued = select(col(OutboxRow.id), col(OutboxRow.channel)).where(
        col(OutboxRow.release_id) == release_id,
        col(OutboxRow.role) == role,
        col(OutboxRow.operation) == POST,
    )
    landed = select(col(SlackMessageRow.outbox_id), col(SlackMessageRow.channel)).where(
        col(SlackMessageRow.release_id) == release_id, col(SlackMessageRow.role) == role
    )
    found = [
        (await session.execute(queued.order_by(col(OutboxRow.id).desc()).limit(1))).first(),
        (
            await session.execute(landed.order_by(col(SlackMessageRow.outbox_id).desc()).limit(1))
        ).first(),
    ]
    latest = max(
        (row for row in found if row is not None), key=lambda row: row[0] or 0, default=None
    )
    return None if latest is None else str(latest[1])


async def replace_pending_updates(
    session: AsyncSession, *, release_id: str, channel: str, role: str
) -> int:
    """Mark the still-pending updates of one message `replaced`; a claimed one is left alone.

    One statement, found through the (release_id, channel, state) index."""
    result = await session.execute(
        update(OutboxRow)
        .where(
            col(OutboxRow.release_id) == release_id,
            col(OutboxRow.channel) == channel,
            col(OutboxRow.state) == "pending",
            col(OutboxRow.role) == role,
            col(OutboxRow.operation) == UPDATE,
        )
        .values(state="replaced", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def find_keyed_message(
    *, database: Database, release_id: str, role: str, before: int
) -> PostedMessage | None:
    """The message an update (outbox row `before`) edits: the latest the release posted under
    `role` from a row enqueued before the update, once posted."""
    async with database.read() as session:
        row = (
            await session.execute(
                select(col(SlackMessageRow.channel), col(SlackMessageRow.ts))
                .where(
                    col(SlackMessageRow.release_id) == release_id,
                    col(SlackMessageRow.role) == role,
                    col(SlackMessageRow.outbox_id) < before,
                )
                .order_by(col(SlackMessageRow.outbox_id).desc())
                .limit(1)
            )
        ).first()
        return None if row is None else PostedMessage(channel=row[0], ts=row[1])


async def keyed_post_is_coming(
    *, database: Database, release_id: str, role: str, before: int
) -> bool:
    """True while a post under `role` enqueued before outbox row `before` is still waiting.

    A post enqueued after an update is not the message it edits: that update has nothing to
    edit (and waiting for it would stall the channel, the update being ahead of it)."""
    async with database.read() as session:
        count = (
            await session.execute(
                select(func.count()).where(
                    col(OutboxRow.release_id) == release_id,
                    col(OutboxRow.role) == role,
                    col(OutboxRow.operation) == POST,
                    col(OutboxRow.state).in_(OPEN_STATES),
                    col(OutboxRow.id) < before,
                )
            )
        ).scalar_one()
        return bool(count)
