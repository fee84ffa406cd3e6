"""Outbox claims and outcomes: each message is claimed by compare-and-set, sent once, recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.tables import OutboxRow, SlackMessageRow

# pending → sending → sent | dead; a pending update a newer one supersedes becomes
# `replaced` (bot/store/keyed_messages.py). Only pending and sending rows are still to leave.
# `attempts` counts failures: a claim adds one, a wait that is no failure (a 429, a thread
# root not posted yet) gives it back (`mark_waiting`).
OPEN_STATES = ("pending", "sending")
POST, UPDATE = "post", "update"


@dataclass(frozen=True)
class Claim:
    """An outbox row this worker holds until `lease_until`."""

    id: int
    release_id: str
    channel: str
    role: str
    thread_role: str | None
    operation: str  # POST or UPDATE
    event_type: str | None
    body: dict[str, Any]
    attempts: int
    ambiguous: bool
    created_at: datetime
    failing_since: datetime | None = None  # when it first failed; None while it never has


@dataclass(frozen=True)
class Note:
    """A message about a dead letter, queued with it (`mark_dead`): in its channel, or in
    `channel` (a page's note goes to the ops channel)."""

    role: str
    thread_role: str | None
    body: dict[str, Any]
    channel: str | None = None


async def claim_next(
    *, database: Database, channel: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Claim the next message of `channel` if it is due; while it is not, the channel waits.

    The next message is the oldest open one, except that an urgent one (a failure, a rollback,
    a red verdict) goes ahead of other releases' messages; a release's own messages always
    leave in order, so its thread root is posted before its replies."""
    open_here = and_(col(OutboxRow.channel) == channel, col(OutboxRow.state).in_(OPEN_STATES))
    earlier = aliased(OutboxRow)
    first_of_its_release = ~exists().where(
        col(earlier.channel) == channel,
        col(earlier.release_id) == col(OutboxRow.release_id),
        col(earlier.state).in_(OPEN_STATES),
        col(earlier.id) < col(OutboxRow.id),
    )
    urgent = (  # pending only: walks the urgent index in id order and stops at the first
        select(col(OutboxRow.id))
        .where(
            col(OutboxRow.channel) == channel,
            col(OutboxRow.urgent),
            col(OutboxRow.state) == "pending",
            first_of_its_release,
        )
        .order_by(col(OutboxRow.id))
        .limit(1)
    )
    oldest = select(col(OutboxRow.id)).where(open_here).order_by(col(OutboxRow.id)).limit(1)
    head = func.coalesce(urgent.scalar_subquery(), oldest.scalar_subquery())
    due = or_(
        and_(col(OutboxRow.state) == "pending", col(OutboxRow.next_attempt_at) <= now),
        and_(col(OutboxRow.state) == "sending", col(OutboxRow.lease_until) < now),
    )
    statement = (
        update(OutboxRow)
        .where(col(OutboxRow.id) == head, due)
        .values(
            state="sending",
            lease_until=now + lease,
            attempts=col(OutboxRow.attempts) + 1,
            # a lease that ran out means a sender died mid-call: the post may have happened
            ambiguous=case(
                (col(OutboxRow.state) == "sending", True), else_=col(OutboxRow.ambiguous)
            ),
        )
        .returning(OutboxRow)
    )
    async with database.transaction() as session:
        row = (await session.execute(statement)).scalar_one_or_none()
        if row is None:
            return None
        return Claim(
            id=row.id or 0,
            release_id=row.release_id,
            channel=row.channel,
            role=row.role,
            thread_role=row.thread_role,
            operation=row.operation,
            event_type=row.event_type,
            body=dict(row.body),
            attempts=row.attempts,
            ambiguous=row.ambiguous,
            created_at=row.created_at,
            failing_since=row.failing_since,
        )


def _held(claim: Claim) -> ColumnElement[bool]:
    """The row is still this claim's: no other worker re-claimed it after the lease ran out."""
    return and_(
        col(OutboxRow.id) == claim.id,
        col(OutboxRow.state) == "sending",
        col(OutboxRow.attempts) == claim.attempts,
    )


async def mark_sent(
    *, database: Database, claim: Claim, ts: str, thread_ts: str | None, now: datetime
) -> bool:
    """Record the post and where it landed, so threads and updates survive restarts.

    False (nothing recorded) when the claim was lost: the new claimant is ambiguous and
    finds this post in the channel history.
    """
    async with database.transaction() as session:
        result = await session.execute(
            update(OutboxRow)
            .where(_held(claim))
            .values(state="sent", sent_at=now, ts=ts, lease_until=None, last_error=None)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.add(
            SlackMessageRow(
                release_id=claim.release_id,
                channel=claim.channel,
                ts=ts,
                thread_ts=thread_ts,
                role=claim.role,
                event_type=claim.event_type,
                outbox_id=claim.id,
                posted_at=now,
            )
        )
    return True


async def mark_delivered(
    *, database: Database, claim: Claim, now: datetime, ts: str | None = None
) -> bool:
    """Record a delivery that leaves no new Slack message behind: a PagerDuty event, or an
    update of a message Herald posted before (`ts` is that message's)."""
    async with database.transaction() as session:
        result = await session.execute(
            update(OutboxRow)
            .where(_held(claim))
            .values(state="sent", sent_at=now, ts=ts, lease_until=None, last_error=None)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def mark_retry(
    *, database: Database, claim: Claim, at: datetime, error: str, ambiguous: bool, now: datetime
) -> None:
    """A failure: put the message back in line, due at `at`; ambiguity sticks until it is
    resolved, and the first failure's time (`now`) bounds how long it is retried.

    A lost claim changes nothing: the message belongs to whoever re-claimed it.
    """
    async with database.transaction() as session:
        await session.execute(
            update(OutboxRow)
            .where(_held(claim))
            .values(
                state="pending",
                next_attempt_at=at,
                lease_until=None,
                last_error=error[:500],
                ambiguous=col(OutboxRow.ambiguous) | ambiguous,
                failing_since=func.coalesce(col(OutboxRow.failing_since), now),
            )
        )


async def mark_waiting(*, database: Database, claim: Claim, at: datetime, reason: str) -> None:
    """No failure: the message waits until `at` (Slack's `Retry-After`, a thread root not
    posted yet) and gets its attempt back, so a burst of 429s raises no backoff."""
    async with database.transaction() as session:
        await session.execute(
            update(OutboxRow)
            .where(_held(claim))
            .values(
                state="pending",
                next_attempt_at=at,
                lease_until=None,
                last_error=reason[:500],
                attempts=col(OutboxRow.attempts) - 1,
            )
        )


async def mark_dead(
    *, database: Database, claim: Claim, error: str, now: datetime, note: Note | None = None
) -> bool:
    """Give up on the message: keep it as a dead letter, let the channel move on, and queue
    `note` (saying so) behind it in the same transaction, so it is queued once.

    False (nothing changed) when the claim was lost."""
    async with database.transaction() as session:
        result = await session.execute(
            update(OutboxRow)
            .where(_held(claim))
            .values(state="dead", lease_until=None, last_error=error[:500], dead_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if note is not None:
            session.add(
                OutboxRow(
                    release_id=claim.release_id,
                    channel=note.channel or claim.channel,
                    role=note.role,
                    thread_role=note.thread_role,
                    body=note.body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return True


async def find_thread_root(*, database: Database, release_id: str, role: str) -> str | None:
    """The ts of the release's message that opens the `role` thread, once it is posted."""
    async with database.read() as session:
        return (
            await session.execute(
                select(col(SlackMessageRow.ts)).where(
                    col(SlackMessageRow.release_id) == release_id,
                    col(SlackMessageRow.role) == role,
                )
            )
        ).scalar_one_or_none()


async def root_is_coming(*, database: Database, release_id: str, role: str) -> bool:
    """True while the thread root is still waiting in the outbox."""
    async with database.read() as session:
        count = (
            await session.execute(
                select(func.count()).where(
                    col(OutboxRow.release_id) == release_id,
                    col(OutboxRow.role) == role,
                    col(OutboxRow.state).in_(OPEN_STATES),
                )
            )
        ).scalar_one()
        return bool(count)


async def list_open_channels(*, database: Database, sink: str = "slack") -> list[str]:
    async with database.read() as session:
        rows = await session.execute(
            select(col(OutboxRow.channel))
            .where(col(OutboxRow.state).in_(OPEN_STATES), col(OutboxRow.sink) == sink)
            .distinct()
        )
        return [channel for (channel,) in rows]


async def release_stale_claims(*, database: Database) -> int:
    """Single-process start-up: every claim left `sending` by a dead process becomes ambiguous."""
    async with database.transaction() as session:
        result = await session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.state) == "sending")
            .values(state="pending", ambiguous=True, lease_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def count_open(*, database: Database) -> int:
    async with database.read() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).where(col(OutboxRow.state).in_(OPEN_STATES))
                )
            ).scalar_one()
        )
