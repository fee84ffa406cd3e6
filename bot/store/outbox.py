"""Outbox claims and outcomes: each message is claimed by compare-and-set, sent once, recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    update,
)
from sqlalchemy import select as select_rows
from sqlmodel import SQLModel, col, select

from bot.store import channel_paces
from bot.store.database import Database
from bot.store.release_rows import row_values, table_of
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


OUTBOX = table_of(OutboxRow)
CLAIM_COLUMNS = [OUTBOX.c[field.name] for field in fields(Claim)]


@dataclass(frozen=True)
class Note:
    """A message about a dead letter, queued with it (`mark_dead`): in its channel, or in
    `channel` (a page's note goes to the ops channel, where its ops thread is, if known)."""

    role: str
    thread_role: str | None
    body: dict[str, Any]
    channel: str | None = None


@cache
def claim_statement() -> Update:
    """The claim as one statement, built once (bound: b_channel, b_now, b_lease_until).

    The next message is the oldest open one, except that an urgent one (a failure, a rollback,
    a red verdict) goes ahead of other releases' messages; a release's own messages always
    leave in order, so its thread root is posted before its replies."""
    channel = bindparam("b_channel", type_=OUTBOX.c.channel.type)
    now = bindparam("b_now", type_=OUTBOX.c.lease_until.type)
    earlier = OUTBOX.alias("earlier")
    first_of_its_release = ~exists().where(
        earlier.c.channel == channel,
        earlier.c.release_id == OUTBOX.c.release_id,
        earlier.c.state.in_(OPEN_STATES),
        earlier.c.id < OUTBOX.c.id,
    )
    urgent = (  # pending only: walks the urgent index in id order and stops at the first
        select_rows(OUTBOX.c.id)
        .where(
            OUTBOX.c.channel == channel,
            OUTBOX.c.urgent,
            OUTBOX.c.state == "pending",
            first_of_its_release,
        )
        .order_by(OUTBOX.c.id)
        .limit(1)
    )
    open_here = and_(OUTBOX.c.channel == channel, OUTBOX.c.state.in_(OPEN_STATES))
    oldest = select_rows(OUTBOX.c.id).where(open_here).order_by(OUTBOX.c.id).limit(1)
    head = func.coalesce(urgent.scalar_subquery(), oldest.scalar_subquery())
    # Slack's per-channel pace is chat.postMessage's: an update (chat.update) is not held
    paced_post_may_go = channel_paces.not_paced(channel, now)
    due = or_(
        and_(OUTBOX.c.state == "pending", OUTBOX.c.next_attempt_at <= now),
        and_(OUTBOX.c.state == "sending", OUTBOX.c.lease_until < now),
    )
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id == head, due, or_(OUTBOX.c.operation != POST, paced_post_may_go))
        .values(
            state="sending",
            lease_until=bindparam("b_lease_until"),
            attempts=OUTBOX.c.attempts + 1,
            # a lease that ran out means a sender died mid-call: the post may have happened
            ambiguous=case((OUTBOX.c.state == "sending", True), else_=OUTBOX.c.ambiguous),
        )
        .returning(*CLAIM_COLUMNS)
    )


async def claim_next(
    *, database: Database, channel: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Claim the next message of `channel` if it is due; while it is not, the channel waits
    (the order: `claim_statement`). One call on the writer, no ORM objects."""
    claimed = await claim_or_pace(database=database, channel=channel, now=now, lease=lease)
    return claimed if isinstance(claimed, Claim) else None


async def claim_or_pace(
    *, database: Database, channel: str, now: datetime, lease: timedelta
) -> Claim | datetime | None:
    """`claim_next`, or — while the channel keeps Slack's pace — when its next post may go."""
    values = {"b_channel": channel, "b_now": now, "b_lease_until": now + lease}

    def claim(connection: Connection) -> Claim | datetime | None:
        row = connection.execute(claim_statement(), values).first()
        if row is None:
            return channel_paces.held_until(connection, channel=channel, now=now)
        return Claim(**row._asdict())

    return await database.write_now(claim)


def _held(claim: Claim) -> ColumnElement[bool]:
    """The row is still this claim's: no other worker re-claimed it after the lease ran out."""
    return and_(
        OUTBOX.c.id == claim.id,
        OUTBOX.c.state == "sending",
        OUTBOX.c.attempts == claim.attempts,
    )


async def _update_held(
    database: Database,
    claim: Claim,
    values: dict[str, Any],
    *,
    then: Callable[[Connection], None] | None = None,
) -> bool:
    """Apply `values` to the claimed row if this claim still holds it, then `then` in the
    same transaction; False (nothing changed) when the claim was lost."""

    def apply(connection: Connection) -> bool:
        result = connection.execute(update(OUTBOX).where(_held(claim)).values(**values))
        if result.rowcount != 1:
            return False
        if then is not None:
            then(connection)
        return True

    return await database.write_now(apply)


async def mark_sent(
    *,
    database: Database,
    claim: Claim,
    ts: str,
    thread_ts: str | None,
    now: datetime,
    spacing: timedelta = timedelta(0),
) -> bool:
    """Record the post and where it landed, so threads and updates survive restarts; if
    the channel is paced (`mark_waiting`), its next post waits `spacing`.

    False (nothing recorded) when the claim was lost: the new claimant is ambiguous and
    finds this post in the channel history.
    """
    message = row_values(
        SlackMessageRow,
        release_id=claim.release_id,
        channel=claim.channel,
        ts=ts,
        thread_ts=thread_ts,
        role=claim.role,
        event_type=claim.event_type,
        outbox_id=claim.id,
        posted_at=now,
    )

    def record(connection: Connection) -> None:
        _insert(connection, SlackMessageRow, message)
        channel_paces.posted(connection, channel=claim.channel, now=now, spacing=spacing)

    return await _update_held(database, claim, _sent(now, ts), then=record)


async def mark_delivered(
    *, database: Database, claim: Claim, now: datetime, ts: str | None = None
) -> bool:
    """Record a delivery that leaves no new Slack message behind: a PagerDuty event, or an
    update of a message Herald posted before (`ts` is that message's)."""
    return await _update_held(database, claim, _sent(now, ts))


def _sent(now: datetime, ts: str | None) -> dict[str, Any]:
    return {"state": "sent", "sent_at": now, "ts": ts, "lease_until": None, "last_error": None}


async def mark_retry(
    *, database: Database, claim: Claim, at: datetime, error: str, ambiguous: bool, now: datetime
) -> None:
    """A failure: put the message back in line, due at `at`; ambiguity sticks until it is
    resolved, and the first failure's time (`now`) bounds how long it is retried.

    A lost claim changes nothing: the message belongs to whoever re-claimed it.
    """
    retry = {
        "state": "pending",
        "next_attempt_at": at,
        "lease_until": None,
        "last_error": error[:500],
        "ambiguous": OUTBOX.c.ambiguous | ambiguous,
        "failing_since": func.coalesce(OUTBOX.c.failing_since, now),
    }
    await _update_held(database, claim, retry)


async def mark_waiting(
    *,
    database: Database,
    claim: Claim,
    at: datetime,
    reason: str,
    paced_until: datetime | None = None,
) -> None:
    """No failure: the message waits until `at` (Slack's `Retry-After`, a thread root not
    posted yet) and gets its attempt back, so a burst of 429s raises no backoff. With
    `paced_until` (Slack said 429), every process's next post in the channel waits until
    `at` too, and keeps to Slack's pace until `paced_until` (bot/store/channel_paces.py)."""
    waiting = {
        "state": "pending",
        "next_attempt_at": at,
        "lease_until": None,
        "last_error": reason[:500],
        "attempts": OUTBOX.c.attempts - 1,
    }

    def pace(connection: Connection) -> None:
        assert paced_until is not None
        channel_paces.throttle(
            connection, channel=claim.channel, next_post_at=at, paced_until=paced_until
        )

    await _update_held(database, claim, waiting, then=None if paced_until is None else pace)


async def mark_dead(
    *, database: Database, claim: Claim, error: str, now: datetime, note: Note | None = None
) -> bool:
    """Give up on the message: keep it as a dead letter, let the channel move on, and queue
    `note` (saying so) behind it in the same transaction, so it is queued once.

    False (nothing changed) when the claim was lost."""
    dead = {"state": "dead", "lease_until": None, "last_error": error[:500], "dead_at": now}
    if note is None:
        return await _update_held(database, claim, dead)
    row = row_values(
        OutboxRow,
        release_id=claim.release_id,
        channel=note.channel or claim.channel,
        role=note.role,
        thread_role=note.thread_role,
        body=note.body,
        next_attempt_at=now,
        created_at=now,
    )

    def queue_note(connection: Connection) -> None:
        if note.channel is not None and note.thread_role is not None:  # a page's, in its thread
            row["channel"] = (
                _root_channel(connection, claim.release_id, note.thread_role) or note.channel
            )
        _insert(connection, OutboxRow, row)

    return await _update_held(database, claim, dead, then=queue_note)


def _root_channel(connection: Connection, release_id: str, role: str) -> str | None:
    """The channel the release's `role` thread root was queued in: a service's own ops
    channel, for a page's note (bot/channels.py)."""
    statement = select_rows(OUTBOX.c.channel).where(
        OUTBOX.c.release_id == release_id, OUTBOX.c.role == role, OUTBOX.c.operation == POST
    )
    return connection.scalar(statement.order_by(OUTBOX.c.id.desc()).limit(1))


def _insert(connection: Connection, model: type[SQLModel], row: dict[str, Any]) -> None:
    connection.execute(insert(table_of(model)), [row])


async def find_thread_root(
    *, database: Database, release_id: str, role: str, channel: str | None = None
) -> str | None:
    """The ts of the release's message that opens the `role` thread (in `channel`, when
    given: a thread_ts means nothing in another channel), once it is posted."""
    messages = table_of(SlackMessageRow)
    statement = select_rows(messages.c.ts).where(
        messages.c.release_id == release_id, messages.c.role == role
    )
    if channel is not None:
        statement = statement.where(messages.c.channel == channel)
    return await database.read_now(lambda connection: connection.scalar(statement))


async def root_is_coming(
    *, database: Database, release_id: str, role: str, channel: str | None = None
) -> bool:
    """True while the thread root is still waiting in the outbox (in `channel`, when given)."""
    statement = select_rows(OUTBOX.c.id).where(
        OUTBOX.c.release_id == release_id,
        OUTBOX.c.role == role,
        OUTBOX.c.state.in_(OPEN_STATES),
    )
    if channel is not None:
        statement = statement.where(OUTBOX.c.channel == channel)
    found = await database.read_now(lambda connection: connection.scalar(statement.limit(1)))
    return found is not None


async def list_open_channels(*, database: Database, sink: str = "slack") -> list[str]:
    statement = (
        select_rows(OUTBOX.c.channel)
        .where(OUTBOX.c.state.in_(OPEN_STATES), OUTBOX.c.sink == sink)
        .distinct()
    )
    return await database.read_now(lambda connection: list(connection.scalars(statement)))


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
