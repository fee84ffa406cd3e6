"""DORA in SQL: aggregates over indexed columns of `releases`; no release row reaches Python.

Each call scans the current and the previous window in one index range per question:
- by `deployed_at` (`ix_releases_service_env_deployed`, or `ix_releases_deployed_at` across
  services): deploys per day index, failed deploys, rework, lead times;
- by `failed_at` (`ix_releases_service_env_failed`, or `ix_releases_failed_at`): failures,
  restores, time to restore.
Percentiles: `percentile_cont` on PostgreSQL. SQLite has none, so it numbers the window's
values with `row_number()` (one sort) and returns only the two rows each percentile
interpolates. Both give the same bits as `bot.domain.dora.percentile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.dora import (
    DAY,
    DoraReport,
    DoraWindow,
    WindowCounts,
    build_report,
    epoch_seconds,
    interpolate,
    percentile_ranks,
)
from bot.domain.manifest import Risk
from bot.store.database import Database
from bot.store.tables import ReleaseRow

CURRENT, PREVIOUS = 1, 0
LEAD_QS = (0.5, 0.9)
RESTORE_QS = (0.5,)

_releases = ReleaseRow.metadata.tables[ReleaseRow.__tablename__].c
_deployed: ColumnElement[Any] = _releases.deployed_at
_failed: ColumnElement[Any] = _releases.failed_at
_rolled_back: ColumnElement[Any] = _releases.rolled_back_at
_recovered: ColumnElement[Any] = _releases.recovered_at
_lead: ColumnElement[Any] = _releases.lead_time_seconds
_manifest: ColumnElement[Any] = _releases.manifest


async def dora_report(
    database: Database,
    *,
    window: DoraWindow,
    service: str | None = None,
    env: str | None = None,
    compare: bool = True,
) -> DoraReport:
    """DORA for one service (or all) and env (or all) in `window`, and the window before."""
    windows = {CURRENT: window}
    if compare:
        windows[PREVIOUS] = window.previous()
    sql = _Queries(sqlite=database.sqlite, windows=windows, service=service, env=env)
    async with database.read() as session:
        counts = await sql.counts(session)
    return build_report(
        service=service,
        env=env,
        window=window,
        counts=counts[CURRENT],
        previous=counts.get(PREVIOUS),
    )


class _Queries:
    def __init__(
        self,
        *,
        sqlite: bool,
        windows: dict[int, DoraWindow],
        service: str | None,
        env: str | None,
    ) -> None:
        self.sqlite = sqlite
        self.windows = windows
        self.service = service
        self.env = env
        self.current = windows[CURRENT]
        self.first = min(w.start for w in windows.values())

    async def counts(self, session: AsyncSession) -> dict[int, WindowCounts]:
        deploys = await self._deploys(session)
        failures = await self._failures(session)
        if self.sqlite:
            lead_sizes = {w: d[3] for w, d in deploys.items()}
            leads = await self._ranked(session, _deployed, _lead, _lead > 0, lead_sizes, LEAD_QS)
            restore_sizes = {w: f[1] for w, f in failures.items()}
            restore = self._restore_seconds()
            restores = await self._ranked(
                session, _failed, restore, _recovered.is_not(None), restore_sizes, RESTORE_QS
            )
        else:
            leads = await self._pg_lead_percentiles(session)
            restores = {w: (f[2],) for w, f in failures.items()}
        result: dict[int, WindowCounts] = {}
        for w in self.windows:
            days, failed, rework, lead_n = deploys.get(w, ({}, 0, 0, 0))
            lead = leads.get(w, (None, None))
            failure_n, restore_n, _ = failures.get(w, (0, 0, None))
            result[w] = WindowCounts(
                deploys=sum(days.values()),
                deploy_days=days,
                failed_deploys=failed,
                rework_deploys=rework,
                lead_times=lead_n,
                lead_time_median=lead[0],
                lead_time_p90=lead[1],
                failures=failure_n,
                restores=restore_n,
                restore_median=restores.get(w, (None,))[0],
            )
        return result

    # -- the scans ---------------------------------------------------------------------------

    async def _deploys(
        self, session: AsyncSession
    ) -> dict[int, tuple[dict[int, int], int, int, int]]:
        """Per window: deploys per day index, failed deploys, rework, positive lead times."""
        win = self._window_of(_deployed)
        end: ColumnElement[int] = literal(epoch_seconds(self.current.end), BigInteger)
        if PREVIOUS in self.windows:
            before = literal(epoch_seconds(self.windows[PREVIOUS].end), BigInteger)
            end = case((_deployed >= self.current.start, end), else_=before)
        rows = (
            select(
                win.label("win"),
                ((end - 1 - self._seconds(_deployed)) // DAY).label("day"),
                _flag(or_(_failed.is_not(None), _rolled_back.is_not(None))).label("failed"),
                _flag(or_(_rolled_back.is_not(None), self._emergency())).label("rework"),
                _flag(_lead > 0).label("lead"),
            )
            .where(*self._scan(_deployed))
            .subquery()
        )
        statement = select(
            rows.c.win,
            rows.c.day,
            func.count(),
            func.sum(rows.c.failed),
            func.sum(rows.c.rework),
            func.sum(rows.c.lead),
        ).group_by(rows.c.win, rows.c.day)
        out: dict[int, tuple[dict[int, int], int, int, int]] = {}
        for w, day, n, failed, rework, lead in (await session.execute(statement)).all():
            days, f, r, n_lead = out.get(int(w), ({}, 0, 0, 0))
            days[int(day)] = int(n)
            out[int(w)] = (days, f + int(failed), r + int(rework), n_lead + int(lead))
        return out

    async def _failures(self, session: AsyncSession) -> dict[int, tuple[int, int, float | None]]:
        """Per window: failures, restores and (PostgreSQL) the median time to restore."""
        rows = (
            select(
                self._window_of(_failed).label("win"),
                _flag(_recovered.is_not(None)).label("restored"),
                case((_recovered.is_not(None), self._restore_seconds())).label("restore"),
            )
            .where(*self._scan(_failed))
            .subquery()
        )
        columns: list[Any] = [rows.c.win, func.count(), func.sum(rows.c.restored)]
        if not self.sqlite:
            columns.append(func.percentile_cont(0.5).within_group(rows.c.restore))
        statement = select(*columns).group_by(rows.c.win)
        out: dict[int, tuple[int, int, float | None]] = {}
        for row in (await session.execute(statement)).all():
            median = None if self.sqlite or row[3] is None else float(row[3])
            out[int(row[0])] = (int(row[1]), int(row[2]), median)
        return out

    async def _pg_lead_percentiles(
        self, session: AsyncSession
    ) -> dict[int, tuple[float | None, ...]]:
        rows = (
            select(self._window_of(_deployed).label("win"), _lead.label("v"))
            .where(*self._scan(_deployed), _lead > 0)
            .subquery()
        )
        statement = select(
            rows.c.win, *(func.percentile_cont(q).within_group(rows.c.v) for q in LEAD_QS)
        ).group_by(rows.c.win)
        return {
            int(w): (float(p50), float(p90))
            for w, p50, p90 in (await session.execute(statement)).all()
        }

    async def _ranked(
        self,
        session: AsyncSession,
        by: ColumnElement[Any],
        value: ColumnElement[Any],
        keep: ColumnElement[bool],
        sizes: dict[int, int],
        qs: Sequence[float],
    ) -> dict[int, tuple[float | None, ...]]:
        """SQLite: each percentile from the (at most) two rows it interpolates between;
        `sizes` holds how many values each window has (known from the counting scan)."""
        ranks = {w: [percentile_ranks(n, q) for q in qs] for w, n in sizes.items() if n > 0}
        if not ranks:
            return {}
        numbered = (
            select(
                self._window_of(by).label("win"),
                value.label("v"),
                func.row_number()
                .over(partition_by=self._window_of(by), order_by=value)
                .label("rn"),
            )
            .where(*self._scan(by), keep)
            .subquery()
        )
        wanted = or_(
            false(),
            *(
                and_(
                    numbered.c.win == w,
                    numbered.c.rn.in_({r + 1 for low, high, _ in rs for r in (low, high)}),
                )
                for w, rs in ranks.items()
            ),
        )
        found: dict[tuple[int, int], float] = {
            (int(w), int(rn) - 1): float(v)
            for w, rn, v in (
                await session.execute(
                    select(numbered.c.win, numbered.c.rn, numbered.c.v).where(wanted)
                )
            ).all()
        }
        return {
            w: tuple(
                interpolate(found[(w, low)], found[(w, high)], weight) for low, high, weight in rs
            )
            for w, rs in ranks.items()
        }

    # -- expressions ------------------------------------------------------------------------

    def _window_of(self, column: ColumnElement[Any]) -> ColumnElement[int]:
        if len(self.windows) == 1:
            return literal(CURRENT, Integer)
        return case((column >= self.current.start, CURRENT), else_=PREVIOUS)

    def _scan(self, column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        conditions = [column >= self.first, column < self.current.end]
        if self.service is not None:
            conditions.append(_releases.service == self.service)
        if self.env is not None:
            conditions.append(_releases.env == self.env)
        return conditions

    def _seconds(self, column: ColumnElement[Any]) -> ColumnElement[int]:
        """Whole seconds since 1970 (floor), exactly."""
        if self.sqlite:
            return cast(func.strftime("%s", column), Integer)
        return cast(func.floor(func.extract("epoch", column)), BigInteger)

    def _restore_seconds(self) -> ColumnElement[Any]:
        """`recovered_at - failed_at` in seconds, exact to the microsecond on both databases."""
        if self.sqlite:
            # UtcDateTime stores SQLAlchemy's fixed-width text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
            micros = (self._seconds(_recovered) - self._seconds(_failed)) * 1_000_000 + (
                cast(func.substr(_recovered, 21, 6), Integer)
                - cast(func.substr(_failed, 21, 6), Integer)
            )
            return cast(micros, Float) / 1e6
        return cast(func.extract("epoch", _recovered) - func.extract("epoch", _failed), Float)

    def _emergency(self) -> ColumnElement[bool]:
        """The manifest's `risk` is `emergency`; a substring test first spares most JSON parses."""
        risk = Risk.EMERGENCY.value
        if self.sqlite:
            return and_(
                func.instr(_manifest, risk) > 0,
                func.json_extract(_manifest, "$.risk") == risk,
            )
        return and_(
            func.strpos(cast(_manifest, Text), risk) > 0,
            _manifest.op("->>")(literal("risk", Text)) == risk,
        )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)
