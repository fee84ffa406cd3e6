"""What DORA needs of the releases in a time range, per UTC day, read from the indexes of
`releases` (migrations 0004 and 0014) as plain tuples: three statements, each a range scan
of one index, covering but for the emergency one on SQLite:
- deploys (`deployed_at` in the range): the whole second each happened, its lead time, and
  whether it failed or was rolled back;
- emergency deploys not rolled back (rework), from the partial index of emergency releases
  (so JSON is read for those few only, or on PostgreSQL not at all);
- failures (`failed_at` in the range): the whole second, and the seconds to recover.
`bot.store.dora_days` keeps whole past days of these in `dora_days`; `bot.store.dora` reads
the rest (the start and the end of a window, days changed since) from here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    CursorResult,
    Executable,
    Float,
    Integer,
    case,
    cast,
    func,
    text,
    union_all,
)
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.dora.window import DAY
from bot.store.tables import ReleaseRow

# The partial indexes' own predicate, verbatim (as literals: a bound parameter would not let
# the planner prove the index applies).
EMERGENCY_SQLITE = text("json_extract(releases.manifest, '$.risk') = 'emergency'")
EMERGENCY_POSTGRESQL = text("(releases.manifest ->> 'risk') = 'emergency'")
UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)
SECONDS = np.dtype("<i4")  # seconds into the day: < 86,400
VALUES = np.dtype("<f8")

_releases = ReleaseRow.metadata.tables[ReleaseRow.__tablename__].c
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DayFacts:
    """One UTC day's deploys and failures (of one scope): the day's `dora_days` row."""

    day: int  # days since 1970-01-01
    deploy_seconds: npt.NDArray[np.int32]  # seconds into the day of each deploy, sorted
    failed_deploys: int
    rework_deploys: int
    lead_times: Floats  # the positive ones, sorted
    failures: int
    restore_times: Floats  # of the failures that recovered, sorted

    @classmethod
    def empty(cls, day: int) -> DayFacts:
        none = np.empty(0, VALUES)
        return cls(day, np.empty(0, SECONDS), 0, 0, none, 0, none)


async def read_day_facts(
    session: AsyncSession,
    *,
    sqlite: bool,
    ranges: Sequence[tuple[datetime, datetime]],
    service: str | None,
    env: str | None,
) -> dict[int, DayFacts]:
    """The facts of each UTC day with a deploy or a failure in one of the `[start, end)`
    ranges, none of two on the same day (a window's first and last part-days): each
    statement a `UNION ALL` of one range scan per range."""
    scope = _scope(service, env)
    deployed, failed = _releases.deployed_at, _releases.failed_at
    failed_or_rolled_back = case(
        (_releases.failed_at.is_not(None) | _releases.rolled_back_at.is_not(None), 1), else_=0
    )
    rolled_back = case((_releases.rolled_back_at.is_not(None), 1), else_=0)
    lead = func.coalesce(_releases.lead_time_seconds, 0.0)
    at = _epoch_seconds(deployed, sqlite=sqlite)
    deploy_columns = (at, lead, failed_or_rolled_back, rolled_back)
    deploys = await _read(session, deploy_columns, deployed, ranges, scope)
    emergency = EMERGENCY_SQLITE if sqlite else EMERGENCY_POSTGRESQL
    hotfix = [*scope, emergency, _releases.rolled_back_at.is_(None)]
    hotfixes = await _read(session, (at,), deployed, ranges, hotfix)
    recovered = case((_releases.recovered_at.is_not(None), 1), else_=0)
    restore = func.coalesce(_restore_seconds(sqlite=sqlite), 0.0)
    failure_columns = (_epoch_seconds(failed, sqlite=sqlite), recovered, restore)
    failures = await _read(session, failure_columns, failed, ranges, scope)
    return _by_day(deploys, hotfixes[0], failures)


async def _read(
    session: AsyncSession,
    columns: Sequence[ColumnElement[Any]],
    column: ColumnElement[Any],
    ranges: Sequence[tuple[datetime, datetime]],
    conditions: Sequence[Any],
) -> list[Floats]:
    """`columns` of the releases whose `column` is in one of `ranges`, as arrays."""
    selects = [
        sql_select(*columns).where(column >= start, column < end, *conditions)
        for start, end in ranges
    ]
    statement = selects[0] if len(selects) == 1 else union_all(*selects)
    return _columns(await fetch_rows(session, statement), len(columns))


def _by_day(deploys: list[Floats], hotfixes: Floats, failures: list[Floats]) -> dict[int, DayFacts]:
    """Group the three statements' columns by UTC day: one sort of each, then slices."""
    at, lead, failed_or_rolled_back, rolled_back = deploys
    failed_at, recovered, restore = failures
    deploy_day, hotfix_day = np.floor_divide(at, DAY), np.floor_divide(hotfixes, DAY)
    failure_day = np.floor_divide(failed_at, DAY)
    days = np.union1d(deploy_day, failure_day)
    by_time = np.argsort(at, kind="stable")
    seconds = _split(days, deploy_day[by_time], (at - deploy_day * DAY)[by_time])
    positive = lead > 0
    by_lead = np.lexsort((lead[positive], deploy_day[positive]))
    leads = _split(days, deploy_day[positive][by_lead], lead[positive][by_lead])
    ok = recovered == 1
    by_restore = np.lexsort((restore[ok], failure_day[ok]))
    restores = _split(days, failure_day[ok][by_restore], restore[ok][by_restore])
    failed_deploys = _per_day(days, deploy_day, failed_or_rolled_back)
    rework = _per_day(days, deploy_day, rolled_back) + _per_day(days, hotfix_day, None)
    failed = _per_day(days, failure_day, None)
    return {
        int(day): DayFacts(
            day=int(day),
            deploy_seconds=seconds[i].astype(SECONDS),
            failed_deploys=int(failed_deploys[i]),
            rework_deploys=int(rework[i]),
            lead_times=leads[i].astype(VALUES),
            failures=int(failed[i]),
            restore_times=restores[i].astype(VALUES),
        )
        for i, day in enumerate(days)
    }


def _split(days: Floats, sorted_days: Floats, values: Floats) -> list[Floats]:
    """`values` (ordered by day) cut into one array per day of `days`."""
    edges = np.searchsorted(sorted_days, days, side="left")
    return np.split(values, edges[1:])


def _per_day(days: Floats, day_of: Floats, weights: Floats | None) -> Floats:
    """Per day of `days`: how many of `day_of` fall on it (or the sum of their `weights`)."""
    index = np.searchsorted(days, day_of)
    return np.bincount(index, weights=weights, minlength=len(days)).astype(np.float64)


def _columns(rows: Sequence[Any], width: int) -> list[Floats]:
    """The rows' columns as float64 arrays (every value is a whole second below 2**53, a
    0/1 flag or a float, so each is exact)."""
    if not rows:
        return [np.empty(0, np.float64) for _ in range(width)]
    table = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    return [table[:, i] for i in range(width)]


def _scope(service: str | None, env: str | None) -> list[ColumnElement[bool]]:
    conditions = []
    if service is not None:
        conditions.append(_releases.service == service)
    if env is not None:
        conditions.append(_releases.env == env)
    return conditions


def _epoch_seconds(column: ColumnElement[Any], *, sqlite: bool) -> ColumnElement[int]:
    """Whole seconds since 1970 (floor), as `bot.domain.dora.window.epoch_seconds`."""
    if sqlite:
        if UNIXEPOCH:
            seconds: ColumnElement[int] = func.unixepoch(column)
            return seconds
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _restore_seconds(*, sqlite: bool) -> ColumnElement[Any]:
    """`recovered_at - failed_at` in seconds, exact to the microsecond on both databases."""
    recovered, failed = _releases.recovered_at, _releases.failed_at
    if sqlite:
        # UtcDateTime stores SQLAlchemy's fixed-width text, 'YYYY-MM-DD HH:MM:SS.ffffff':
        # whole seconds from unixepoch() (or strftime), microseconds from the text
        # (julianday is too coarse).
        def micros(column: ColumnElement[Any]) -> ColumnElement[int]:
            seconds = _epoch_seconds(column, sqlite=True)
            return seconds * 1_000_000 + cast(func.substr(column, 21, 6), Integer)

        return cast(micros(recovered) - micros(failed), Float) / 1e6
    return cast(func.extract("epoch", recovered) - func.extract("epoch", failed), Float)


async def fetch_rows(session: AsyncSession, statement: Executable) -> Sequence[Any]:
    """The rows as the driver returns them: plain tuples. SQLAlchemy's `Row` for each of
    hundreds of thousands of values costs more than SQLite takes to read them."""
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()
