"""DMs about releases: who asked for them (SqlDmBook), and which release events of the last
minutes they are owed (DmNotifier's reads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.domain.release.lifecycle import EventType
from bot.store.database import Database
from bot.store.dm_tables import DmSubscriberRow
from bot.store.release_rows import table_of
from bot.store.tables import EventRow, ReleaseRow


class SqlDmBook:
    def __init__(self, *, database: Database) -> None:
        self._database = database

    async def subscribe(self, user: str, *, at: datetime) -> None:
        table = table_of(DmSubscriberRow)
        insert = sqlite_insert if self._database.sqlite else pg_insert
        statement = insert(table).values(user=user, since=at).on_conflict_do_nothing()
        async with self._database.transaction() as session:
            await session.execute(statement)

    async def unsubscribe(self, user: str) -> None:
        table = table_of(DmSubscriberRow)
        async with self._database.transaction() as session:
            await session.execute(delete(table).where(table.c.user == user))

    async def subscribed(self, user: str) -> bool:
        return user in await self.subscribers()

    async def subscribers(self) -> dict[str, datetime]:
        table = table_of(DmSubscriberRow)
        async with self._database.read() as session:
            rows = await session.execute(select(table.c.user, table.c.since))
            return {str(user): since for user, since in rows}


@dataclass(frozen=True)
class ReleaseNews:
    """A deploy or a failure a subscriber may be owed a DM about."""

    release_id: str
    service: str
    env: str
    version: str
    event: EventType
    symptom: str | None
    received_at: datetime


async def recent_news(database: Database, *, since: datetime) -> list[ReleaseNews]:
    """Deploys and failures since `since`, found through the releases' indexed times (the
    event table has no index on time), each with its event's payload for the symptom."""
    found: list[ReleaseNews] = []
    for event, column in ((EventType.DEPLOYED, "deployed_at"), (EventType.FAILED, "failed_at")):
        found += await _news(database, event, column, since=since)
    return sorted(found, key=lambda news: news.received_at)


async def _news(
    database: Database, event: EventType, column: str, *, since: datetime
) -> list[ReleaseNews]:
    events, releases = table_of(EventRow), table_of(ReleaseRow)
    at = releases.c[column]
    query = (
        select(
            releases.c.id,
            releases.c.service,
            releases.c.env,
            releases.c.version,
            events.c.payload,
            events.c.received_at,
        )
        .join(
            events,
            (events.c.release_id == releases.c.id) & (events.c.type == event.value),
        )
        .where(at >= since)
        .order_by(at)
        .limit(500)
    )
    async with database.read() as session:
        rows = (await session.execute(query)).all()
    return [
        ReleaseNews(rid, service, env, version, event, _symptom(payload), received)
        for rid, service, env, version, payload, received in rows
    ]


def _symptom(payload: object) -> str | None:
    details = payload.get("details") if isinstance(payload, dict) else None
    symptom = details.get("symptom") if isinstance(details, dict) else None
    return str(symptom) if symptom else None
