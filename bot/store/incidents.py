"""A failed release's incident in the store: read under a row lock by each change (two
replicas, or two clicks, change it one after the other), written back whole."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.incident.model import Incident, IncidentUpdate
from bot.domain.ports import ConcurrentWrite
from bot.store.incident_tables import IncidentRow
from bot.store.release_rows import table_of

_UPDATE_FIELDS = ("symptom", "blast_radius", "flag_state", "next_action", "eta")


async def lock_incident(session: AsyncSession, release_id: str) -> Incident | None:
    query = select(IncidentRow).where(col(IncidentRow.release_id) == release_id)
    row = (await session.execute(query.with_for_update())).scalars().first()
    if row is None:
        return None
    latest = IncidentUpdate(**{name: getattr(row, name) for name in _UPDATE_FIELDS})
    return Incident(row.release_id, row.commander, row.updates, latest, row.updated_at)


async def save_incident(session: AsyncSession, incident: Incident, *, new: bool) -> None:
    values = {
        "commander": incident.commander,
        "updates": incident.updates,
        "updated_at": incident.updated_at,
        **{name: getattr(incident.latest, name) for name in _UPDATE_FIELDS},
    }
    table = table_of(IncidentRow)
    if not new:
        await session.execute(
            update(table).where(table.c.release_id == incident.release_id).values(**values)
        )
        return
    try:
        await session.execute(insert(table).values(release_id=incident.release_id, **values))
    except IntegrityError as exc:  # another replica opened it first: the use case runs again
        raise ConcurrentWrite(str(exc.orig)) from exc
