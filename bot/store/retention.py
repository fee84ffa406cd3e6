"""Retention: the inbox and the outbox forget what no one reads any more, a batch at a time.

Pruned, once older than the retention:
- inbox rows that owe no work (`request` is NULL). A key is a dedupe record: it is kept at
  least `DEDUPE_HORIZON` after it was last received (a redelivery refreshes it, see
  `bot/store/inbox.py`), so a sender's retry or Alertmanager's repeat is still dropped.
- Slack outbox rows that were delivered (`sent`) or made pointless (`replaced`). What they
  held that is still read lives on in `slack_messages` (channel, ts, role, outbox id).

Kept for ever: releases, events, Slack messages, audit rows, action claims; open outbox
rows (`pending`, `sending`); dead letters (a human looks at those); PagerDuty's rows (one
page, one resolve and one change event per release: they are how it is sent only once).
Each batch is one short statement in its own transaction, so ingest is never held up long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func
from sqlalchemy.orm import Mapped
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.tables import InboxRow, OutboxRow

log = logging.getLogger(__name__)
DELIVERED = ("sent", "replaced")
BATCH = 1000


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of row is kept; None keeps it for ever."""

    inbox: timedelta | None = timedelta(days=14)
    outbox: timedelta | None = timedelta(days=30)
    batch: int = BATCH


@dataclass(frozen=True)
class Pruned:
    inbox: int = 0
    outbox: int = 0


async def prune_inbox_batch(*, database: Database, before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` inbox rows received before `before` that owe no work."""
    old = (
        select(col(InboxRow.key))
        .where(col(InboxRow.received_at) < before, col(InboxRow.request).is_(None))
        .limit(batch)
    )
    return await _delete(database, InboxRow, col(InboxRow.key), old)


async def prune_outbox_batch(*, database: Database, before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` delivered Slack outbox rows created before `before`.

    The newest row is never deleted: SQLite hands out max(id) + 1, and a reused id would
    collide with the `slack_messages.outbox_id` of the message it once posted."""
    newest = select(func.max(col(OutboxRow.id))).scalar_subquery()
    old = (
        select(col(OutboxRow.id))
        .where(
            col(OutboxRow.sink) == "slack",
            col(OutboxRow.state).in_(DELIVERED),
            col(OutboxRow.created_at) < before,
            col(OutboxRow.id) < newest,
        )
        .limit(batch)
    )
    return await _delete(database, OutboxRow, col(OutboxRow.id), old)


async def _delete(
    database: Database,
    table: type[InboxRow | OutboxRow],
    key: Mapped[Any],
    rows: Select[Any],
) -> int:
    """Delete the rows of `table` whose `key` is among `rows`, in one short transaction."""
    async with database.transaction() as session:
        result = await session.execute(
            delete(table)
            .where(key.in_(rows.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def prune(
    *, database: Database, policy: RetentionPolicy, now: datetime, pause: float = 0.0
) -> Pruned:
    """Every row past its retention, a batch per transaction, yielding between batches."""
    inbox = outbox = 0
    if policy.inbox is not None:
        inbox = await _drain(prune_inbox_batch, database, now - policy.inbox, policy, pause)
    if policy.outbox is not None:
        outbox = await _drain(prune_outbox_batch, database, now - policy.outbox, policy, pause)
    return Pruned(inbox=inbox, outbox=outbox)


async def _drain(
    step: Callable[..., Awaitable[int]],
    database: Database,
    before: datetime,
    policy: RetentionPolicy,
    pause: float,
) -> int:
    total = 0
    while True:
        deleted = await step(database=database, before=before, batch=policy.batch)
        total += deleted
        if deleted < policy.batch:
            return total
        await asyncio.sleep(pause)  # let the writers queued at the gate go first


class RetentionJob:
    """The scheduled prune: logs and counts what it deleted; a failed run waits for the next."""

    def __init__(
        self,
        *,
        database: Database,
        policy: RetentionPolicy,
        clock: Callable[[], datetime],
        count: Callable[[str, int], None] | None = None,
    ) -> None:
        self._database = database
        self._policy = policy
        self._clock = clock
        self._count = count

    async def run(self) -> Pruned:
        """One prune. A failure raises: the scheduler's wrapper logs and counts it
        (`herald_job_failures_total`), and the next run continues where this one stopped."""
        pruned = await prune(database=self._database, policy=self._policy, now=self._clock())
        if self._count is not None:
            self._count("inbox", pruned.inbox)
            self._count("outbox", pruned.outbox)
        if pruned.inbox or pruned.outbox:
            log.info(
                "retention pruned rows", extra={"inbox": pruned.inbox, "outbox": pruned.outbox}
            )
        return pruned
