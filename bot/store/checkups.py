"""Checkup rows: planned on deploy, claimed once across replicas, finished with a verdict."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from bot.domain.checkups import Checkup
from bot.domain.paging import Page
from bot.store.database import Database
from bot.store.tables import CheckupRow


async def supersede_checkups(
    session: AsyncSession, *, service: str, env: str, by: str
) -> list[tuple[str, list[timedelta]]]:
    """Cancel the pending checkups of older releases of `service` in `env`."""
    rows = (
        await session.execute(
            update(CheckupRow)
            .where(
                col(CheckupRow.service) == service,
                col(CheckupRow.env) == env,
                col(CheckupRow.release_id) != by,
                col(CheckupRow.state) == "pending",
            )
            .values(state="superseded", result={"superseded_by": by})
            .returning(col(CheckupRow.release_id), col(CheckupRow.offset_seconds))
        )
    ).all()
    grouped: dict[str, list[timedelta]] = {}
    for release_id, seconds in rows:
        grouped.setdefault(release_id, []).append(timedelta(seconds=seconds))
    return [(release_id, sorted(offsets)) for release_id, offsets in grouped.items()]


def _due(now: datetime) -> Any:
    return or_(
        and_(col(CheckupRow.state) == "pending", col(CheckupRow.due_at) <= now),
        and_(col(CheckupRow.state) == "running", col(CheckupRow.lease_until) < now),
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
            state="running",
            lease_until=now + lease,
            attempts=col(CheckupRow.attempts) + 1,
            started_at=now,
        )
        .returning(CheckupRow)
    )
    async with database.transaction() as session:
        rows = (await session.execute(statement)).scalars().all()
        return [_checkup(row) for row in rows]


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
    )


async def count_by_state(*, database: Database) -> dict[str, int]:
    async with database.read() as session:
        rows = await session.execute(
            select(col(CheckupRow.state), func.count()).group_by(col(CheckupRow.state))
        )
        return {state: int(count) for state, count in rows.all()}


def page_to_json(page: Page) -> dict[str, Any]:
    data = asdict(page)
    data["links"] = [list(link) for link in page.links]
    data["custom_details"] = dict(page.custom_details)
    return data


def page_from_json(data: dict[str, Any]) -> Page:
    return Page(**{**data, "links": tuple(tuple(link) for link in data.get("links", []))})
