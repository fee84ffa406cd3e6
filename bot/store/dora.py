"""DORA in SQL: aggregates over indexed columns of `releases`; no release row reaches Python.

Per window (the asked one, then the one before it for the trend) a handful of statements,
each a range scan of one index (`ix_releases_dora_*`, migration 0004), covering but for
the emergency one on SQLite:
- deploys: counts of deploys, failed or rolled-back deploys, rolled-back deploys and positive
  lead times, by `deployed_at`;
- emergency deploys not rolled back (rework), from a partial index of the emergency releases
  (so JSON is read for those few only, or on PostgreSQL not at all);
- deploys per day index: one indexed count per day of the window, in one small statement
  (the days' bounds go in as one parameter: a JSON array on SQLite, arrays on PostgreSQL);
- failures and restores, by `failed_at`.
Percentiles: `percentile_cont` on PostgreSQL. SQLite has none, so it numbers the window's
values with `row_number()` (one sort, in the index's pages) and returns only the rows each
percentile interpolates between. Both give the bits `bot.domain.dora.reference.percentile` gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Float,
    Integer,
    Text,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.dora.reference import WindowCounts, interpolate, percentile_ranks
from bot.domain.dora.report import DoraReport, build_report
from bot.domain.dora.window import DAY, DoraWindow
from bot.store.database import Database
from bot.store.tables import ReleaseRow

_ONE_DAY = timedelta(days=1)
LEAD_QS = (0.5, 0.9)
RESTORE_QS = (0.5,)
# The partial indexes' own predicate, verbatim (as literals: a bound parameter would not let
# the planner prove the index applies).
EMERGENCY_SQLITE = text("json_extract(releases.manifest, '$.risk') = 'emergency'")
EMERGENCY_POSTGRESQL = text("(releases.manifest ->> 'risk') = 'emergency'")

_releases = ReleaseRow.metadata.tables[ReleaseRow.__tablename__].c
_service: ColumnElement[Any] = _releases.service
_env: ColumnElement[Any] = _releases.env
_deployed: ColumnElement[Any] = _releases.deployed_at
_failed: ColumnElement[Any] = _releases.failed_at
_rolled_back: ColumnElement[Any] = _releases.rolled_back_at
_recovered: ColumnElement[Any] = _releases.recovered_at
_lead: ColumnElement[Any] = _releases.lead_time_seconds


async def dora_report(
    database: Database,
    *,
    window: DoraWindow,
    service: str | None = None,
    env: str | None = None,
    compare: bool = True,
) -> DoraReport:
    """DORA for one service (or all) and env (or all) in `window`, and the window before it
    for the trend (unless `compare` is False). One read-only transaction."""
    sql = DoraQueries(sqlite=database.sqlite, service=service, env=env)
    async with database.read() as session:
        counts = await sql.counts(session, window)
        previous = await sql.counts(session, window.previous()) if compare else None
    return build_report(service=service, env=env, window=window, counts=counts, previous=previous)


class DoraQueries:
    """The statements for one service/env filter, on one dialect."""

    def __init__(self, *, sqlite: bool, service: str | None, env: str | None) -> None:
        self.sqlite = sqlite
        self.service = service
        self.env = env

    async def counts(self, session: AsyncSession, window: DoraWindow) -> WindowCounts:
        deployed = self._between(_deployed, window)
        failed = self._between(_failed, window)
        positive = _lead > 0
        deploy_columns: list[Any] = [
            func.count(),
            func.count(func.coalesce(_failed, _rolled_back)),
            func.count(_rolled_back),
            func.count().filter(positive),
        ]
        restore = self._restore_seconds()
        failure_columns: list[Any] = [func.count(), func.count(_recovered)]
        if not self.sqlite:
            deploy_columns += [
                func.percentile_cont(q).within_group(_lead).filter(positive) for q in LEAD_QS
            ]
            failure_columns += [func.percentile_cont(q).within_group(restore) for q in RESTORE_QS]
        deploys = (await session.execute(select(*deploy_columns).where(*deployed))).one()
        failures = (await session.execute(select(*failure_columns).where(*failed))).one()
        emergency = (
            await session.execute(
                select(func.count()).where(*deployed, self._emergency(), _rolled_back.is_(None))
            )
        ).scalar_one()
        n_leads, n_restores = int(deploys[3]), int(failures[1])
        if self.sqlite:
            leads = await self._ranked(session, _lead, [*deployed, positive], n_leads, LEAD_QS)
            restores = await self._ranked(
                session, restore, [*failed, _recovered.is_not(None)], n_restores, RESTORE_QS
            )
        else:
            leads = _floats(deploys[4:])
            restores = _floats(failures[2:])
        return WindowCounts(
            deploys=int(deploys[0]),
            deploy_days=await self._deploy_days(session, window) if deploys[0] else {},
            failed_deploys=int(deploys[1]),
            rework_deploys=int(deploys[2]) + int(emergency),
            lead_times=n_leads,
            lead_time_median=leads[0],
            lead_time_p90=leads[1],
            failures=int(failures[0]),
            restores=n_restores,
            restore_median=restores[0],
        )

    async def _deploy_days(self, session: AsyncSession, window: DoraWindow) -> dict[int, int]:
        """Deploys per day index (`DoraWindow.day_index`): one indexed count per day, from one
        small statement that takes the days' bounds as one parameter."""
        days = -(-int(window.length.total_seconds()) // DAY)
        highs = [window.end - index * _ONE_DAY for index in range(days)]
        lows = [max(window.start, high - _ONE_DAY) for high in highs]
        if self.sqlite:
            bounds = json.dumps(
                [[_sqlite_text(lo), _sqlite_text(hi)] for lo, hi in zip(lows, highs, strict=True)]
            )
            each = func.json_each(literal(bounds, Text)).table_valued("key", "value").alias("d")
            index: ColumnElement[Any] = each.c.key
            low: ColumnElement[Any] = func.json_extract(each.c.value, "$[0]")
            high: ColumnElement[Any] = func.json_extract(each.c.value, "$[1]")
        else:
            stamps = ARRAY(DateTime(timezone=True))
            each = (
                func.unnest(literal(lows, stamps), literal(highs, stamps))
                .table_valued("lo", "hi", with_ordinality="i")
                .render_derived(name="d")
            )
            index, low, high = each.c.i - 1, each.c.lo, each.c.hi
        count = (
            select(func.count())
            .where(_deployed >= low, _deployed < high, *self._filters())
            .scalar_subquery()
        )
        rows = (await session.execute(select(index, count).select_from(each))).all()
        return {int(i): int(n) for i, n in rows if n}

    async def _ranked(
        self,
        session: AsyncSession,
        value: ColumnElement[Any],
        where: Sequence[ColumnElement[bool]],
        size: int,
        qs: Sequence[float],
    ) -> tuple[float | None, ...]:
        """SQLite: each percentile from the (at most) two rows it interpolates between."""
        if size == 0:
            return tuple(None for _ in qs)
        ranks = [percentile_ranks(size, q) for q in qs]
        numbered = (
            select(value.label("v"), func.row_number().over(order_by=value).label("rn"))
            .where(*where)
            .subquery()
        )
        wanted = {r + 1 for low, high, _ in ranks for r in (low, high)}
        found = {
            int(rn) - 1: float(v)
            for rn, v in (
                await session.execute(
                    select(numbered.c.rn, numbered.c.v).where(numbered.c.rn.in_(wanted))
                )
            ).all()
        }
        return tuple(interpolate(found[low], found[high], weight) for low, high, weight in ranks)

    # -- expressions ------------------------------------------------------------------------

    def _filters(self) -> list[ColumnElement[bool]]:
        conditions = []
        if self.service is not None:
            conditions.append(_service == self.service)
        if self.env is not None:
            conditions.append(_env == self.env)
        return conditions

    def _between(self, column: ColumnElement[Any], window: DoraWindow) -> list[Any]:
        return [column >= window.start, column < window.end, *self._filters()]

    def _emergency(self) -> Any:
        return EMERGENCY_SQLITE if self.sqlite else EMERGENCY_POSTGRESQL

    def _restore_seconds(self) -> ColumnElement[Any]:
        """`recovered_at - failed_at` in seconds, exact to the microsecond on both databases."""
        if self.sqlite:
            # UtcDateTime stores SQLAlchemy's fixed-width text, 'YYYY-MM-DD HH:MM:SS.ffffff':
            # whole seconds from strftime, microseconds from the text (julianday is too coarse).
            def micros(column: ColumnElement[Any]) -> ColumnElement[int]:
                seconds = cast(func.strftime("%s", column), BigInteger)
                return seconds * 1_000_000 + cast(func.substr(column, 21, 6), Integer)

            return cast(micros(_recovered) - micros(_failed), Float) / 1e6
        return cast(func.extract("epoch", _recovered) - func.extract("epoch", _failed), Float)


def _sqlite_text(at: datetime) -> str:
    """UtcDateTime's SQLite storage (SQLAlchemy's): naive UTC, fixed width, microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _floats(values: Sequence[Any]) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)
