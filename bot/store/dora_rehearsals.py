"""DORA's rollback-rehearsed rate: production releases deployed in a window whose version's
rollback was rehearsed in another env before the deploy, reported (`rehearsals`) or seen (the
same version rolled back there). Two counts in one statement."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from bot.domain.dora.reference import PRODUCTION_ENVS
from bot.domain.dora.report import Figure, rehearsed_rate
from bot.domain.dora.window import DoraWindow
from bot.store.database import Database
from bot.store.release_rows import table_of
from bot.store.tables import RehearsalRow, ReleaseRow


async def rehearsed_figure(
    database: Database, *, window: DoraWindow, service: str | None, env: str | None
) -> Figure:
    releases, rehearsals = table_of(ReleaseRow), table_of(RehearsalRow)
    other = aliased(releases)
    envs = [e for e in PRODUCTION_ENVS if env is None or e == env]
    deployed = [
        releases.c.deployed_at >= window.start,
        releases.c.deployed_at < window.end,
        releases.c.env.in_(envs),
    ]
    if service is not None:
        deployed.append(releases.c.service == service)
    reported = exists().where(
        rehearsals.c.service == releases.c.service,
        rehearsals.c.version == releases.c.version,
        rehearsals.c.env != releases.c.env,
        rehearsals.c.at <= releases.c.deployed_at,
    )
    seen = exists().where(
        other.c.service == releases.c.service,
        other.c.version == releases.c.version,
        other.c.env != releases.c.env,
        other.c.rolled_back_at <= releases.c.deployed_at,
    )
    query = select(func.count(), func.count().filter(or_(reported, seen))).where(and_(*deployed))
    async with database.read() as session:
        total, rehearsed = (await session.execute(query)).one()
    return rehearsed_rate(int(rehearsed or 0), int(total or 0))
