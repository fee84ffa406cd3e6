"""The store's part of the release calendar: releases still planned with a `planned_for`,
and those that started or deployed in the window (bot/domain/calendar). Only the columns the
calendar shows are read, not whole releases: six weeks across 500 services is thousands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from bot.domain.calendar.entries import Dated, Entry, Window, build_entries
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.release.lifecycle import EventType
from bot.store.database import Database
from bot.store.tables import ReleaseRow

# A planned release received longer ago than this before the window is an abandoned one.
PLANNED_HORIZON = timedelta(days=90)
_T = ReleaseRow.__table__.c  # type: ignore[attr-defined]
_COLUMNS = (_T.id, _T.service, _T.env, _T.version, _T.state, _T.started_at, _T.deployed_at)


async def calendar_entries(
    database: Database, *, window: Window, freezes: FreezeCalendar, service: str | None = None
) -> list[Entry]:
    planned_for = _T.manifest["planned_for"].as_string()
    planned = select(*_COLUMNS, planned_for).where(
        _T.state == EventType.PLANNED.value,
        _T.received_at >= window.start - PLANNED_HORIZON,
        planned_for.is_not(None),
    )
    shipped = select(*_COLUMNS).where(
        or_(
            and_(_T.started_at >= window.start, _T.started_at < window.end),
            and_(_T.deployed_at >= window.start, _T.deployed_at < window.end),
        )
    )
    if service is not None:
        planned, shipped = (
            planned.where(_T.service == service),
            shipped.where(_T.service == service),
        )
    async with database.read() as session:
        planned_rows = (await session.execute(planned)).all()
        shipped_rows = (await session.execute(shipped)).all()
    return build_entries(
        window=window,
        planned=[_dated(row, planned_for=_instant(row[-1])) for row in planned_rows],
        shipped=[_dated(row) for row in shipped_rows],
        freezes=freezes,
        service=service,
    )


def _dated(row: Any, *, planned_for: datetime | None = None) -> Dated:
    state = EventType(row.state) if row.state else None
    return Dated(
        row.id, row.service, row.env, row.version, state, row.started_at, row.deployed_at,
        planned_for,
    )  # fmt: skip


def _instant(text: str | None) -> datetime | None:
    """The manifest's `planned_for` as stored (ISO 8601, validated when it came in)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
