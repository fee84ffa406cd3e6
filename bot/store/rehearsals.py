"""Rollback rehearsals: those reported for a release's version, and those Herald saw itself
(the same version of the service rolled back in another env)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from bot.domain.rehearsal.model import Rehearsal, RehearsalRequest, Source
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.store.database import Database
from bot.store.tables import RehearsalRow, ReleaseRow


async def add_rehearsal(
    database: Database, *, release: Release, request: RehearsalRequest, now: datetime
) -> Rehearsal:
    at = request.at or now
    row = RehearsalRow(
        release_id=release.id,
        service=release.service,
        version=release.version,
        env=request.env,
        passed=request.result == "passed",
        at=at,
        link=request.link,
        received_at=now,
    )
    async with database.transaction() as session:
        session.add(row)
    return Rehearsal(request.env, row.passed, at, Source.REPORTED, request.link)


async def last_rehearsal(database: Database, *, release: Release) -> Rehearsal | None:
    """The newest rehearsal of `release`'s version outside its own env, reported or seen."""
    versions = tuple(dict.fromkeys((release.version, release.version.removeprefix("v"))))
    reported = (
        select(RehearsalRow)
        .where(
            col(RehearsalRow.service) == release.service,
            col(RehearsalRow.version).in_(versions),
            col(RehearsalRow.env) != release.env,
        )
        .order_by(col(RehearsalRow.at).desc())
        .limit(1)
    )
    seen = (
        select(ReleaseRow)
        .where(
            col(ReleaseRow.service) == release.service,
            col(ReleaseRow.version).in_(versions),
            col(ReleaseRow.env) != release.env,
            col(ReleaseRow.rolled_back_at).is_not(None),
        )
        .order_by(col(ReleaseRow.rolled_back_at).desc())
        .limit(1)
    )
    async with database.read() as session:
        row = (await session.execute(reported)).scalars().first()
        other = (await session.execute(seen)).scalars().first()
    found = [Rehearsal(row.env, row.passed, row.at, Source.REPORTED, row.link)] if row else []
    if other is not None and other.rolled_back_at is not None:
        passed = other.state in (EventType.ROLLED_BACK.value, EventType.RECOVERED.value)
        found.append(Rehearsal(other.env, passed, other.rolled_back_at, Source.SEEN))
    return max(found, key=lambda rehearsal: rehearsal.at, default=None)
