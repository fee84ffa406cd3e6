"""A scheduled report's period: claimed and its messages queued in one transaction.

The claim is an `action_claims` row under the period's key (`digest:2026-12-01`, the keys
Herald always claimed reports under), so a period is sent by one replica, once; its
messages are outbox rows, which the delivery workers send in order, retrying until Slack
takes them, across restarts. Whoever loses the claim queues nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.inbox import storage_key
from bot.store.outbox import POST
from bot.store.tables import ActionClaimRow, OutboxRow

UPLOAD = "upload"  # a file shared in the thread of the message posted under `thread_role`


@dataclass(frozen=True)
class ReportMessage:
    """One outbox row of a report: a post (`body` is chat.postMessage's) or an upload."""

    role: str
    body: dict[str, Any]
    thread_role: str | None = None
    operation: str = POST


async def claimed(database: Database, keys: Sequence[str]) -> set[str]:
    """Which of these period keys are claimed already."""
    if not keys:
        return set()
    stored = {storage_key(key): key for key in keys}
    async with database.read() as session:
        rows = await session.execute(
            select(col(ActionClaimRow.key)).where(col(ActionClaimRow.key).in_(list(stored)))
        )
        return {stored[key] for (key,) in rows}


async def claim_and_queue(
    database: Database,
    *,
    key: str,
    channel: str,
    messages: Sequence[ReportMessage],
    now: datetime,
) -> bool:
    """Claim the period `key` and queue its messages, or (claimed already) do nothing."""
    stored = storage_key(key)
    subject = f"report:{key}"[:128]
    try:
        async with database.transaction() as session:
            session.add(
                ActionClaimRow(
                    key=stored,
                    actor="herald",
                    at=now,
                    scope=stored,
                    attempt=1,
                    left_state="queued",
                    finished_at=now,
                )
            )
            await session.flush()  # the claim first: a lost claim never writes a message
            for message in messages:
                session.add(
                    OutboxRow(
                        release_id=subject,
                        channel=channel,
                        role=message.role,
                        thread_role=message.thread_role,
                        body=message.body,
                        operation=message.operation,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class Owed:
    """Messages owed once under a claim key (a freeze boundary, a DM), and where they go."""

    channel: str
    messages: Sequence[ReportMessage]


async def queue_owed(database: Database, owed: Mapping[str, Owed], *, now: datetime) -> int:
    """Claim and queue each owed key not claimed yet, once across replicas; how many this
    call queued (a key another replica claimed meanwhile queues nothing)."""
    taken = await claimed(database, list(owed))
    queued = 0
    for key, item in owed.items():
        if key not in taken:
            done = await claim_and_queue(
                database, key=key, channel=item.channel, messages=item.messages, now=now
            )
            queued += int(done)
    return queued
