"""DORA from indexed columns of `releases`: SQL aggregates, and on SQLite the one column
a percentile needs, as plain tuples; never a release row.

Per window (the asked one, then the one before it for the trend) five statements, each a
range scan of one index (`ix_releases_dora_*`, migrations 0004 and 0014), covering but for
the emergency one on SQLite:
- deploys per day index: one indexed count per day of the window, in one small statement
  (the days' bounds go in as one parameter: a JSON array on SQLite, arrays on PostgreSQL);
  their sum is the window's deploys;
- positive lead times, by `deployed_at`;
- deploys that failed or were rolled back, from a partial index of those (~1 in 10);
- emergency deploys not rolled back (rework), from a partial index of the emergency releases
  (so JSON is read for those few only, or on PostgreSQL not at all);
- failures and restores, by `failed_at`.
Percentiles: `percentile_cont` on PostgreSQL. SQLite has none: it hands over the window's
values of that one column, straight from the driver's cursor (no `Row` per value), and numpy
finds the two each percentile interpolates between with a partial sort. Sorting them in SQL
(`row_number()`) cost SQLite 4x more. Both give the bits
`bot.domain.dora.reference.percentile` gives.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CursorResult,
    DateTime,
    Float,
    Integer,
    Select,
    Text,
    cast,
    func,
    literal,
    or_,
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
UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)

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
        days = await self._deploy_days(session, window)
        n_leads, leads = await self._leads(session, deployed)
        failures, n_restores, restores = await self._failures(session, window)
        failed_or_rolled_back = or_(_failed.is_not(None), _rolled_back.is_not(None))
        failed_deploys, rolled_back = (
            await session.execute(
                select(func.count(), func.count(_rolled_back)).where(
                    *deployed, failed_or_rolled_back
                )
            )
        ).one()
        emergency = (
            await session.execute(
                select(func.count()).where(*deployed, self._emergency(), _rolled_back.is_(None))
            )
        ).scalar_one()
        return WindowCounts(
            deploys=sum(days.values()),
            deploy_days=days,
            failed_deploys=int(failed_deploys),
            rework_deploys=int(rolled_back) + int(emergency),
            lead_times=n_leads,
            lead_time_median=leads[0],
            lead_time_p90=leads[1],
            failures=failures,
            restores=n_restores,
            restore_median=restores[0],
        )

    async def _leads(
        self, session: AsyncSession, deployed: Sequence[ColumnElement[bool]]
    ) -> tuple[int, tuple[float | None, ...]]:
        """How many positive lead times the window's deploys have, and their percentiles."""
        positive = [*deployed, _lead > 0]
        if self.sqlite:
            rows = await _fetch_rows(session, select(_lead).where(*positive))
            values = np.fromiter(map(itemgetter(0), rows), dtype=np.float64, count=len(rows))
            return len(rows), _percentiles(values, LEAD_QS)
        columns = [func.percentile_cont(q).within_group(_lead) for q in LEAD_QS]
        row = (await session.execute(select(func.count(), *columns).where(*positive))).one()
        return int(row[0]), _floats(row[1:])

    async def _failures(
        self, session: AsyncSession, window: DoraWindow
    ) -> tuple[int, int, tuple[float | None, ...]]:
        """Failures in the window, how many recovered, and the restore times' percentiles."""
        failed = self._between(_failed, window)
        restore = self._restore_seconds()
        if self.sqlite:
            rows = await _fetch_rows(session, select(restore).where(*failed))
            values = np.array([v for (v,) in rows if v is not None], dtype=np.float64)
            return len(rows), len(values), _percentiles(values, RESTORE_QS)
        columns = [func.percentile_cont(q).within_group(restore) for q in RESTORE_QS]
        query = select(func.count(), func.count(_recovered), *columns).where(*failed)
        row = (await session.execute(query)).one()
        return int(row[0]), int(row[1]), _floats(row[2:])

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
            # unixepoch() (SQLite 3.38) is the same whole seconds as strftime('%s'), at half
            # the cost: it makes no text to parse back.
            def micros(column: ColumnElement[Any]) -> ColumnElement[int]:
                if UNIXEPOCH:
                    seconds: ColumnElement[int] = func.unixepoch(column)
                else:
                    seconds = cast(func.strftime("%s", column), BigInteger)
                return seconds * 1_000_000 + cast(func.substr(column, 21, 6), Integer)

            return cast(micros(_recovered) - micros(_failed), Float) / 1e6
        return cast(func.extract("epoch", _recovered) - func.extract("epoch", _failed), Float)


def _sqlite_text(at: datetime) -> str:
    """UtcDateTime's SQLite storage (SQLAlchemy's): naive UTC, fixed width, microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _floats(values: Sequence[Any]) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)


async def _fetch_rows(session: AsyncSession, statement: Select[Any]) -> Sequence[Any]:
    """The rows as the driver returns them: plain tuples. SQLAlchemy's `Row` for each of
    hundreds of thousands of values costs more than SQLite takes to read them."""
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _percentiles(values: npt.NDArray[np.float64], qs: Sequence[float]) -> tuple[float | None, ...]:
    """`percentile_cont(q)` for each q, with the same bits: the two values each percentile
    interpolates between, found by a partial sort (numpy's introselect), not a full one."""
    if len(values) == 0:
        return tuple(None for _ in qs)
    ranks = [percentile_ranks(len(values), q) for q in qs]
    kth = sorted({r for low, high, _ in ranks for r in (low, high)})
    parted = np.partition(values, kth)
    return tuple(
        interpolate(float(parted[low]), float(parted[high]), weight) for low, high, weight in ranks
    )
