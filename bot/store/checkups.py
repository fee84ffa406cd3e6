"""Checkup rows: planned on deploy, claimed once across replicas, finished with a verdict."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from bot.domain.checkup.checkup import Checkup
from bot.store.database import Database
from bot.store.release_rows import table_of
from bot.store.tables import CheckupRow

RUNNING, ROLLING_BACK, DONE = "running", "rollback", "done"
LEASED = (RUNNING, ROLLING_BACK)  # a runner holds these until its lease runs out
JUDGED = (DONE, ROLLING_BACK)  # the verdict is recorded (a rollback may still be owed)


async def supersede_checkups(
    session: AsyncSession, *, service: str, env: str, by: str
) -> list[tuple[str, list[timedelta]]]:
    """Cancel the pending checkups of older releases of `service` in `env`."""
    checkups = table_of(CheckupRow)
    rows = (
        await session.execute(
            update(checkups)
            .where(
                checkups.c.service == service,
                checkups.c.env == env,
                checkups.c.release_id != by,
                checkups.c.state == "pending",
            )
            .values(state="superseded", result={"superseded_by": by})
            .returning(checkups.c.release_id, checkups.c.offset_seconds)
        )
    ).all()
    grouped: dict[str, list[timedelta]] = {}
    for release_id, seconds in rows:
        grouped.setdefault(release_id, []).append(timedelta(seconds=seconds))
    return [(release_id, sorted(offsets)) for release_id, offsets in grouped.items()]


def _due(now: datetime) -> Any:
    """Pending and due; or claimed by a runner that died (lease run out) mid-checkup or
    mid-rollback."""
    return or_(
        and_(col(CheckupRow.state) == "pending", col(CheckupRow.due_at) <= now),
        and_(col(CheckupRow.state).in_(LEASED), col(CheckupRow.lease_until) < now),
    )


async def claim_due(
    *, database: Database, now: datetime, lease: timedelta, limit: int = 50
) -> list[Checkup]:
    """Claim up to `limit` due checkups (or ones whose runner died) for this process.

    PostgreSQL skips rows other replicas hold (FOR UPDATE SKIP LOCKED); SQLite serializes
    writers, and the re-checked WHERE makes the claim a compare-and-set either way."""
    chosen = (
        select(col(CheckupRow.id))
        .where(_due(now))
        .order_by(col(CheckupRow.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(CheckupRow)
        .where(col(CheckupRow.id).in_(chosen.scalar_subquery()), _due(now))
        .values(
            state=case((col(CheckupRow.state) == ROLLING_BACK, ROLLING_BACK), else_=RUNNING),
            lease_until=now + lease,
            attempts=col(CheckupRow.attempts) + 1,
            started_at=now,
        )
        .returning(CheckupRow)
    )
    async with database.transaction() as session:
        rows = (await session.execute(statement)).scalars().all()
        return [_checkup(row) for row in rows]


async def retry_checkup(*, database: Database, checkup_id: int, at: datetime) -> None:
    """A claimed checkup whose judging failed: claimable again from `at` (its lease ends)."""
    async with database.transaction() as session:
        await session.execute(
            update(CheckupRow)
            .where(col(CheckupRow.id) == checkup_id, col(CheckupRow.state) == RUNNING)
            .values(lease_until=at)
        )


async def abandon_checkup(
    *, database: Database, checkup_id: int, reason: str, now: datetime
) -> None:
    """The last resort when even an UNKNOWN report could not be recorded: the checkup is
    finished without a verdict (it counts as failed), so it is never claimed again."""
    async with database.transaction() as session:
        await session.execute(
            update(CheckupRow)
            .where(col(CheckupRow.id) == checkup_id, col(CheckupRow.state).in_(LEASED))
            .values(
                state=DONE,
                color="unknown",
                result={"color": "unknown", "error": reason},
                finished_at=now,
                lease_until=None,
            )
        )


def _checkup(row: CheckupRow) -> Checkup:
    return Checkup(
        id=row.id or 0,
        release_id=row.release_id,
        service=row.service,
        env=row.env,
        offset=timedelta(seconds=row.offset_seconds),
        deployed_at=row.deployed_at,
        due_at=row.due_at,
        attempts=row.attempts,
        rollback_pending=row.state == ROLLING_BACK,
        rollback_plan=row.result.get("rollback_plan"),
    )


async def record_verdict(
    session: AsyncSession,
    *,
    checkup_id: int,
    color: str,
    result: dict[str, Any],
    now: datetime,
    rollback_pending: bool,
) -> None:
    """The verdict; a checkup whose rollback is still to do keeps its state and lease."""
    values: dict[str, Any] = {"color": color, "result": result, "finished_at": now}
    if rollback_pending:
        values["state"] = ROLLING_BACK
    else:
        values.update(state=DONE, lease_until=None)
    await session.execute(
        update(CheckupRow).where(col(CheckupRow.id) == checkup_id).values(**values)
    )


async def merge_result(
    session: AsyncSession, *, checkup_id: int, extra: dict[str, Any], done: bool = False
) -> None:
    """Add to a checkup's recorded result; `done` closes a checkup left open for rollback."""
    row = await session.get(CheckupRow, checkup_id)
    if row is None:
        return
    values: dict[str, Any] = {"result": {**row.result, **extra}}
    if done:
        values.update(state=DONE, lease_until=None)
    await session.execute(
        update(CheckupRow).where(col(CheckupRow.id) == checkup_id).values(**values)
    )


async def count_by_state(*, database: Database) -> dict[str, int]:
    async with database.read() as session:
        rows = await session.execute(
            select(col(CheckupRow.state), func.count()).group_by(col(CheckupRow.state))
        )
        return {state: int(count) for state, count in rows.all()}
