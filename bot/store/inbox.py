"""The inbox: every inbound request Herald acts on is recorded once under a unique key."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.store.database import Database
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
    fast: bool = False,
    refresh: bool = False,
) -> bool:
    """True the first time `key` is seen; False for a duplicate (a retry or a replay).
    `request`, when given, is kept until `finish(key)`: work owed that a crash must not lose.
    `refresh`: a duplicate counts as the key's last sighting, so a sender that keeps
    re-sending it (Alertmanager, while an alert fires) is deduplicated past the retention."""
    row = InboxRow(key=storage_key(key), source=source, received_at=now, request=request)
    try:
        async with database.transaction(fast=fast) as session:
            session.add(row)
    except IntegrityError:
        if refresh:
            await _refresh(database=database, key=row.key, now=now)
        return False
    return True


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
    async with database.transaction() as session:
        await session.execute(
            update(InboxRow)
            .where(col(InboxRow.key) == storage_key(key))
            .values(done_at=now, request=None)
        )


@dataclass(frozen=True)
class Unfinished:
    key: str
    request: dict[str, Any]
    received_at: datetime


async def claim_unfinished(
    *, database: Database, received_before: datetime, now: datetime, skip: Collection[str]
) -> list[Unfinished]:
    """Requests kept before an ack whose work never finished (their process died), each
    handed out once across replicas: the claim is a compare-and-set on `resumed_at`."""
    async with database.read() as session:
        rows = (
            await session.execute(
                select(col(InboxRow.key), col(InboxRow.request), col(InboxRow.received_at))
                .where(col(InboxRow.received_at) <= received_before)
                .where(col(InboxRow.request).is_not(None), col(InboxRow.resumed_at).is_(None))
                .order_by(col(InboxRow.received_at))
                .limit(50)
            )
        ).all()
    claimed, running = [], {storage_key(key) for key in skip}
    for key, request, received_at in rows:
        if key in running or request is None:
            continue
        async with database.transaction() as session:
            won = await session.execute(
                update(InboxRow)
                .where(col(InboxRow.key) == key, col(InboxRow.resumed_at).is_(None))
                .values(resumed_at=now)
            )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(Unfinished(key, request, received_at))
    return claimed
