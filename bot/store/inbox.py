"""The inbox: every inbound request Herald acts on is recorded once under a unique key."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.group_insert import GroupInsert
from bot.store.tables import InboxRow

MAX_KEY = 255
# The longest gap between two deliveries of one key that is still dropped as a duplicate:
# Slack retries within 5 minutes, Argo CD and Rollouts within minutes, Alertmanager repeats a
# firing group every `repeat_interval` (4 h by default, a day or two in quiet setups). The
# retention (bot/store/retention.py) keeps a key at least this long after it was last seen.
DEDUPE_HORIZON = timedelta(days=7)
REFRESH_AFTER = timedelta(days=1)  # a redelivery moves `received_at` on, at most once a day


def storage_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a digest of the whole key."""
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:150]}#{hashlib.sha256(key.encode()).hexdigest()}"


async def record_once(
    *,
    database: Database,
    key: str,
    source: str,
    now: datetime,
    request: dict[str, Any] | None = None,
    refresh: bool = False,
    claimed_by: str | None = None,
) -> bool:
    """True the first time `key` is seen; False for a duplicate (a retry or a replay).
    `request`, when given, is kept until `finish(key)`: work owed that a crash must not lose;
    `claimed_by` names the process that carries it out now (else a worker claims it).
    Rows are written in groups on the write lock's fast lane (bot/store/group_insert.py).
    `refresh`: a duplicate counts as the key's last sighting, so a sender that keeps
    re-sending it (Alertmanager, while an alert fires) is deduplicated past the retention."""
    row: dict[str, Any] = {
        "key": storage_key(key),
        "source": source,
        "received_at": now,
        "request": request,
        "done_at": None,
        "attempts": 0,
        "claimed_by": None,
        "claimed_at": None,
    }
    if request is not None and claimed_by is not None:
        row.update(claimed_by=claimed_by, claimed_at=now, attempts=1)
    if await _inserts(database).insert(row):
        return True
    if refresh:
        await _refresh(database=database, key=row["key"], now=now)
    return False


_batches: weakref.WeakKeyDictionary[Database, GroupInsert] = weakref.WeakKeyDictionary()


def _inserts(database: Database) -> GroupInsert:
    """The inbox's group insert on `database` (one per database, made on first use)."""
    if (batch := _batches.get(database)) is None:
        table = InboxRow.__table__  # type: ignore[attr-defined]
        batch = _batches[database] = GroupInsert(database, table, key="key")
    return batch


async def _refresh(*, database: Database, key: str, now: datetime) -> None:
    """Move a stale key's `received_at` to `now`: a read, and a write only once a day."""
    stale = (col(InboxRow.key) == key, col(InboxRow.received_at) < now - REFRESH_AFTER)
    async with database.read() as session:
        found = (await session.execute(select(col(InboxRow.key)).where(*stale))).first()
    if found is None:
        return
    async with database.transaction() as session:
        await session.execute(
            update(InboxRow).where(*stale, col(InboxRow.request).is_(None)).values(received_at=now)
        )


async def finish(*, database: Database, key: str, now: datetime) -> None:
    """The request's work is done (or was answered with an error): forget its payload."""
    done = (
        update(InboxRow)
        .where(col(InboxRow.key) == storage_key(key))
        .values(done_at=now, request=None)
    )
    await database.write_now(lambda connection: connection.execute(done))


@dataclass(frozen=True)
class Claimed:
    """A kept request handed to one process to carry out."""

    key: str
    request: dict[str, Any]
    received_at: datetime
    attempts: int  # this one included: 2 or more means a process died carrying it out


async def claim_pending(
    *, database: Database, worker: str, now: datetime, stale_before: datetime, limit: int
) -> list[Claimed]:
    """Kept requests no live process carries out — never claimed, or claimed by a process
    that stopped renewing its claims (it died) — oldest first, each handed out once across
    processes and replicas: the claim is a compare-and-set on `claimed_at`. Looked for with a
    read first (mostly there is nothing), claimed in one short write."""
    waiting = (
        col(InboxRow.request).is_not(None),
        col(InboxRow.claimed_at).is_(None) | (col(InboxRow.claimed_at) < stale_before),
    )
    async with database.read() as session:
        any_waiting = select_columns(col(InboxRow.key)).where(*waiting).limit(1)
        if (await session.execute(any_waiting)).first() is None:
            return []

    def claim(connection: Connection) -> list[Claimed]:
        rows = connection.execute(
            select_columns(
                col(InboxRow.key),
                col(InboxRow.request),
                col(InboxRow.received_at),
                col(InboxRow.claimed_at),
                col(InboxRow.attempts),
            )
            .where(*waiting)
            .order_by(col(InboxRow.received_at))
            .limit(limit)
        ).all()
        return [won for row in rows if (won := _claim_one(connection, row, worker, now))]

    return await database.write_now(claim)


def _claim_one(connection: Connection, row: Any, worker: str, now: datetime) -> Claimed | None:
    key, request, received_at, claimed_at, attempts = row
    same = (
        col(InboxRow.claimed_at).is_(None)
        if claimed_at is None
        else col(InboxRow.claimed_at) == claimed_at
    )
    won = connection.execute(
        update(InboxRow)
        .where(col(InboxRow.key) == key, col(InboxRow.request).is_not(None), same)
        .values(claimed_by=worker, claimed_at=now, attempts=attempts + 1)
    )
    if won.rowcount != 1 or request is None:
        return None
    return Claimed(key, request, received_at, attempts + 1)


async def renew_claims(*, database: Database, worker: str, now: datetime) -> None:
    """`worker` is alive and still carrying out what it claimed."""
    renew = (
        update(InboxRow)
        .where(col(InboxRow.claimed_by) == worker, col(InboxRow.request).is_not(None))
        .values(claimed_at=now)
    )
    await database.write_now(lambda connection: connection.execute(renew))


async def release_claims(*, database: Database, worker: str) -> int:
    """`worker` died: what it had claimed and not finished is handed out again at once."""
    release = (
        update(InboxRow)
        .where(col(InboxRow.claimed_by) == worker, col(InboxRow.request).is_not(None))
        .values(claimed_by=None, claimed_at=None)
    )
    return await database.write_now(lambda connection: connection.execute(release).rowcount)
