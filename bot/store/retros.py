"""What the retro of a failed release needs from the store: which recovered releases are owed
a reminder, when the on-call was paged, and which failures still have no retro."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.store.database import Database
from bot.store.incident_tables import IncidentRow
from bot.store.release_rows import table_of
from bot.store.tables import OutboxRow, ReleaseRow


async def retros_due(database: Database, *, since: datetime, until: datetime) -> list[str]:
    """Failed releases that recovered between `since` and `until` and were not reminded."""
    releases, incidents = table_of(ReleaseRow), table_of(IncidentRow)
    query = (
        select(releases.c.id)
        .outerjoin(incidents, incidents.c.release_id == releases.c.id)
        .where(
            releases.c.failed_at.is_not(None),
            releases.c.recovered_at > since,
            releases.c.recovered_at <= until,
            incidents.c.reminded_at.is_(None),
            incidents.c.retro_at.is_(None),
        )
        .order_by(releases.c.recovered_at)
        .limit(100)
    )
    async with database.read() as session:
        return [str(found) for (found,) in await session.execute(query)]


async def paged_at(database: Database, release_id: str) -> datetime | None:
    """When the page of the release reached PagerDuty (None: never paged, or pruned since)."""
    outbox = table_of(OutboxRow)
    query = select(outbox.c.sent_at).where(
        outbox.c.release_id == release_id, outbox.c.role == "page_trigger"
    )
    async with database.read() as session:
        found = (await session.execute(query)).first()
    return found[0] if found else None


async def retros_owed(database: Database, *, since: datetime) -> list[str]:
    """Releases that failed since `since` and have no retro yet, oldest first."""
    releases, incidents = table_of(ReleaseRow), table_of(IncidentRow)
    query = (
        select(releases.c.id)
        .outerjoin(incidents, incidents.c.release_id == releases.c.id)
        .where(releases.c.failed_at >= since, incidents.c.retro_at.is_(None))
        .order_by(releases.c.failed_at)
        .limit(50)
    )
    async with database.read() as session:
        return [str(found) for (found,) in await session.execute(query)]
