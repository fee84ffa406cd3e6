"""The store's part of the release calendar: releases still planned, and those that started
or deployed in the window (bot/domain/calendar)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.domain.calendar.entries import Entry, Window, build_entries
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.store.database import Database
from bot.store.release_rows import release_from_row
from bot.store.reporting import releases_in_period
from bot.store.tables import ReleaseRow

# A planned release received longer ago than this before the window is an abandoned one.
PLANNED_HORIZON = timedelta(days=90)


async def calendar_entries(
    database: Database, *, window: Window, freezes: FreezeCalendar, service: str | None = None
) -> list[Entry]:
    planned = await planned_releases(database, window=window, service=service)
    shipped = await releases_in_period(
        database,
        since=window.start,
        until=window.end,
        service=service,
        events=(EventType.STARTED, EventType.DEPLOYED),
    )
    return build_entries(
        window=window, planned=planned, shipped=shipped, freezes=freezes, service=service
    )


async def planned_releases(
    database: Database, *, window: Window, service: str | None = None
) -> list[Release]:
    """Releases recorded as planned (never started) and received in the last 90 days."""
    statement = select(ReleaseRow).where(
        col(ReleaseRow.state) == EventType.PLANNED.value,
        col(ReleaseRow.received_at) >= window.start - PLANNED_HORIZON,
    )
    if service is not None:
        statement = statement.where(col(ReleaseRow.service) == service)
    async with database.read() as session:
        rows = (await session.execute(statement.order_by(col(ReleaseRow.id)))).scalars().all()
        return [release_from_row(row) for row in rows]
