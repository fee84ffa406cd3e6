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
from bot.store.tables import ReleaseRow

_UPDATE_FIELDS = ("symptom", "blast_radius", "flag_state", "next_action", "eta")


async def lock_incident(session: AsyncSession, release_id: str) -> Incident | None:
    query = select(IncidentRow).where(col(IncidentRow.release_id) == release_id)
    row = (await session.execute(query.with_for_update())).scalars().first()
    return None if row is None else _incident(row)


async def read_incident(session: AsyncSession, release_id: str) -> Incident | None:
    """As it stands, for reading (no lock: a read-only transaction may take none)."""
    query = select(IncidentRow).where(col(IncidentRow.release_id) == release_id)
    row = (await session.execute(query)).scalars().first()
    return None if row is None else _incident(row)


def _incident(row: IncidentRow) -> Incident:
    latest = IncidentUpdate(**{name: getattr(row, name) for name in _UPDATE_FIELDS})
    return Incident(
        row.release_id,
        row.commander,
        row.updates,
        latest,
        row.updated_at,
        row.fix_forward,
        row.reminded_at,
        row.retro_link,
        row.retro_at,
    )


async def save_incident(session: AsyncSession, incident: Incident, *, new: bool) -> None:
    values = {
        "commander": incident.commander,
        "updates": incident.updates,
        "updated_at": incident.updated_at,
        "fix_forward": incident.fix_forward,
        "reminded_at": incident.reminded_at,
        "retro_link": incident.retro_link,
        "retro_at": incident.retro_at,
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


async def fixed_by(
    session: AsyncSession, *, release_id: str, service: str, version: str
) -> list[str]:
    """The failed releases whose incident names this release (by id, or by its version, for
    a release of the same service) as the fix forward."""
    incidents, releases = table_of(IncidentRow), table_of(ReleaseRow)
    versions = {version, version.removeprefix("v"), f"v{version.removeprefix('v')}"}
    query = (
        select(incidents.c.release_id)
        .join(releases, releases.c.id == incidents.c.release_id)
        .where(
            (incidents.c.fix_forward == release_id)
            | ((incidents.c.fix_forward.in_(versions)) & (releases.c.service == service)),
            releases.c.recovered_at.is_(None),
            releases.c.id != release_id,
        )
    )
    return [str(found) for (found,) in await session.execute(query)]
