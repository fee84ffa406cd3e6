"""The declared freezes (`/deploy freeze`) beside the catalogue's windows: the `FreezeBook`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, update
from sqlalchemy.orm import Mapped
from sqlmodel import col, select

from bot.domain.freeze.book import DeclaredFreeze
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import FreezeWindow, Scope
from bot.store.database import Database
from bot.store.tables import FreezeRow

# Declared freezes over for less than this still count: their end is announced late.
RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class SqlFreezeBook:
    database: Database
    catalogue: FreezeCalendar

    async def calendar(self, *, now: datetime) -> FreezeCalendar:
        ends = func.coalesce(col(FreezeRow.ended_at), col(FreezeRow.ends_at))
        query = select(FreezeRow).where(ends > now - RECENT).order_by(col(FreezeRow.id))
        async with self.database.read() as session:
            rows = list((await session.execute(query)).scalars())
        return FreezeCalendar(self.catalogue.windows + tuple(_window(row) for row in rows))

    async def declare(self, freeze: DeclaredFreeze) -> str:
        row = FreezeRow(
            service=freeze.service,
            env=freeze.env,
            reason=freeze.reason,
            starts_at=freeze.start,
            ends_at=freeze.end,
            created_by=freeze.by,
        )
        async with self.database.transaction() as session:
            session.add(row)
            await session.flush()
            assert row.id is not None
            return name_of(row.id)

    async def lift(self, *, service: str | None, env: str | None, by: str, at: datetime) -> int:
        statement = (
            update(FreezeRow)
            .where(
                _same(col(FreezeRow.service), service),
                _same(col(FreezeRow.env), env),
                col(FreezeRow.ended_at).is_(None),
                col(FreezeRow.starts_at) <= at,
                col(FreezeRow.ends_at) > at,
            )
            .values(ended_at=at, ended_by=by)
        )
        async with self.database.transaction() as session:
            result = await session.execute(statement)
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


def name_of(freeze_id: int) -> str:
    return f"freeze-{freeze_id}"


def _same(column: Mapped[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _window(row: FreezeRow) -> FreezeWindow:
    assert row.id is not None
    scope = Scope(
        frozenset({row.service}) if row.service else frozenset(),
        frozenset({row.env}) if row.env else frozenset(),
    )
    end = row.ended_at or row.ends_at
    return FreezeWindow(name_of(row.id), row.reason, scope, start=row.starts_at, end=end)


__all__ = ["RECENT", "SqlFreezeBook", "name_of"]
