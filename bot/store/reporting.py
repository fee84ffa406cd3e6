"""Read-only queries for reports: the releases active in a period, and why they failed.

Only the period is loaded: the filter on the event time columns runs in SQL, never a scan of
every release in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from bot.domain.notes.digest import ACTIVITY
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.store.database import Database
from bot.store.release_rows import release_from_row
from bot.store.tables import EventRow, ReleaseRow

_COLUMNS: dict[EventType, Any] = {
    EventType.PLANNED: ReleaseRow.planned_at,
    EventType.STARTED: ReleaseRow.started_at,
    EventType.DEPLOYED: ReleaseRow.deployed_at,
    EventType.FAILED: ReleaseRow.failed_at,
    EventType.ROLLED_BACK: ReleaseRow.rolled_back_at,
    EventType.RECOVERED: ReleaseRow.recovered_at,
}
_CHUNK = 500  # ids per IN (...) list, well under every driver's parameter limit


async def releases_in_period(
    database: Database,
    *,
    since: datetime,
    until: datetime,
    service: str | None = None,
    env: str | None = None,
    events: Sequence[EventType] = ACTIVITY,
) -> list[Release]:
    """Releases with at least one of `events` (default: deployed, failed, rolled back,
    recovered) in [since, until), optionally of one service and/or env, oldest id first."""
    if not events:
        return []
    in_period = [
        and_(col(_COLUMNS[event]) >= since, col(_COLUMNS[event]) < until) for event in events
    ]
    statement = select(ReleaseRow).where(or_(*in_period))
    if service is not None:
        statement = statement.where(col(ReleaseRow.service) == service)
    if env is not None:
        statement = statement.where(col(ReleaseRow.env) == env)
    statement = statement.order_by(col(ReleaseRow.id))
    async with database.read() as session:
        rows = (await session.execute(statement)).scalars().all()
        return [release_from_row(row) for row in rows]


async def failure_symptoms(database: Database, release_ids: Iterable[str]) -> dict[str, str]:
    """What each release's release.failed event said went wrong (`symptom`), where it said."""
    ids = list(dict.fromkeys(release_ids))
    found: dict[str, str] = {}
    async with database.read() as session:
        for start in range(0, len(ids), _CHUNK):
            statement = select(col(EventRow.release_id), col(EventRow.payload)).where(
                col(EventRow.type) == EventType.FAILED.value,
                col(EventRow.release_id).in_(ids[start : start + _CHUNK]),
            )
            for release_id, payload in (await session.execute(statement)).all():
                symptom = (payload.get("details") or {}).get("symptom")
                if isinstance(symptom, str) and symptom.strip():
                    found[release_id] = symptom.strip()
    return found


async def find_release(database: Database, release_id: str) -> Release | None:
    """One stored release, read without queueing behind writers."""
    async with database.read() as session:
        row = await session.get(ReleaseRow, release_id)
        return release_from_row(row) if row else None
