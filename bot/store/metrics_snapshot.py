"""What `/metrics` reports from the store: a few SQL aggregates taken at scrape time.

Release counters come from the database, not from counters in the process: several
replicas each serve `/metrics` and Herald restarts, so in-process counters would be counted
once per replica and fall to zero on every restart. Every replica reports the same
database-wide totals instead (dashboards take `max` across replicas, never `sum`).

The queries are aggregates only (GROUP BY and SUM(CASE ...), histogram buckets included),
one statement per table, plus the bounded list of verdicts of the last day's releases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON as SaJSON
from sqlalchemy import Float, Numeric, and_, case, cast, extract, func, or_, select, type_coerce
from sqlmodel import col

from bot.domain.checkup.verdict import Color
from bot.store import watches
from bot.store.checkups import JUDGED
from bot.store.database import Database
from bot.store.tables import CheckupRow, OutboxRow, ReleaseRow

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
LEAD_TIME_BUCKETS: tuple[float, ...] = (
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    4 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
)
RECOVERY_BUCKETS: tuple[float, ...] = (
    MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
)
CHECKUP_STATES = ("pending", "running", "rollback", "done", "superseded")
OUTBOX_SINKS = ("slack", "pagerduty")
OUTBOX_WAITING = ("pending", "sending")
OUTBOX_DONE = ("sent", "replaced")
VERDICT_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (one per upper bound, `+Inf` being `count`), count and sum."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    count: int
    sum: float


@dataclass(frozen=True)
class ReleaseTotals:
    """One service in one env: releases that reached each state, all time.

    Each count only grows: a release that deployed and later failed stays in `deployed` and
    joins `failed` (a counter that went down would read as a reset in Prometheus)."""

    service: str
    env: str
    started: int
    deployed: int
    failed: int
    rolled_back: int
    lead_time: Histogram
    time_to_recover: Histogram


@dataclass(frozen=True)
class OutboxTotals:
    sink: str
    depth: int  # waiting to leave: pending or being sent
    oldest_age_seconds: float  # of the oldest waiting message; 0 when none waits
    dead: int  # given up on


@dataclass(frozen=True)
class CheckupTotals:
    by_state: dict[str, int]
    due: int  # pending and past due: the backlog the checkup clock has not claimed yet
    late: int  # finished more than a minute after they were due (Herald was down, say)
    failed: int  # finished without a verdict (color unknown: Prometheus did not answer)
    watch_failed: int = 0  # watch evaluations that could not be judged


@dataclass(frozen=True)
class ReleaseVerdict:
    release_id: str
    service: str
    env: str
    color: Color  # of the release's latest finished checkup


@dataclass(frozen=True)
class MetricsSnapshot:
    taken_at: datetime
    releases: tuple[ReleaseTotals, ...] = ()
    outbox: tuple[OutboxTotals, ...] = ()
    checkups: CheckupTotals = field(
        default_factory=lambda: CheckupTotals(dict.fromkeys(CHECKUP_STATES, 0), 0, 0, 0)
    )
    verdicts: tuple[ReleaseVerdict, ...] = ()


async def take_snapshot(*, database: Database, now: datetime) -> MetricsSnapshot:
    """Everything `/metrics` reports from the store, in one read transaction."""
    async with database.read() as session:
        releases = (await session.execute(_release_statement(database.sqlite))).all()
        outbox = (await session.execute(_outbox_statement())).all()
        checkups = (await session.execute(_checkup_statement(now))).all()
        watch_failed = int((await session.execute(watches.failures_statement())).scalar_one())
        verdicts = (await session.execute(_verdict_statement(now - VERDICT_WINDOW))).all()
    return MetricsSnapshot(
        taken_at=now,
        releases=tuple(_release_totals(row) for row in releases),
        outbox=_outbox_totals(outbox, now),
        checkups=replace(_checkup_totals(checkups), watch_failed=watch_failed),
        verdicts=_latest_verdicts(verdicts),
    )


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _seconds_between(later: Any, earlier: Any, *, sqlite: bool) -> Any:
    """`later - earlier` in seconds, to the millisecond, on SQLite and PostgreSQL."""
    if sqlite:
        return func.round((func.julianday(later) - func.julianday(earlier)) * DAY, 3)
    return cast(func.round(cast(extract("epoch", later - earlier), Numeric), 3), Float)


def _histogram_columns(value: Any, present: Any, bounds: Sequence[float]) -> list[Any]:
    columns = [_count(and_(present, value <= bound)) for bound in bounds]
    columns.append(_count(present))
    columns.append(func.coalesce(func.sum(case((present, value), else_=0.0)), 0.0))
    return columns


def _release_statement(sqlite: bool) -> Any:
    lead = col(ReleaseRow.lead_time_seconds)
    has_lead = and_(col(ReleaseRow.deployed_at).is_not(None), lead.is_not(None))
    recovered, failed = col(ReleaseRow.recovered_at), col(ReleaseRow.failed_at)
    ttr = _seconds_between(recovered, failed, sqlite=sqlite)
    has_ttr = and_(recovered.is_not(None), failed.is_not(None))
    return select(
        col(ReleaseRow.service),
        col(ReleaseRow.env),
        _count(col(ReleaseRow.started_at).is_not(None)),
        _count(col(ReleaseRow.deployed_at).is_not(None)),
        _count(failed.is_not(None)),
        _count(col(ReleaseRow.rolled_back_at).is_not(None)),
        *_histogram_columns(lead, has_lead, LEAD_TIME_BUCKETS),
        *_histogram_columns(ttr, has_ttr, RECOVERY_BUCKETS),
    ).group_by(col(ReleaseRow.service), col(ReleaseRow.env))


def _histogram(values: Sequence[Any], bounds: tuple[float, ...]) -> Histogram:
    return Histogram(
        bounds=bounds,
        buckets=tuple(int(v) for v in values[: len(bounds)]),
        count=int(values[len(bounds)]),
        sum=float(values[len(bounds) + 1]),
    )


def _release_totals(row: Sequence[Any]) -> ReleaseTotals:
    service, env, started, deployed, failed, rolled_back, *rest = row
    split = len(LEAD_TIME_BUCKETS) + 2
    return ReleaseTotals(
        service=str(service),
        env=str(env),
        started=int(started),
        deployed=int(deployed),
        failed=int(failed),
        rolled_back=int(rolled_back),
        lead_time=_histogram(rest[:split], LEAD_TIME_BUCKETS),
        time_to_recover=_histogram(rest[split:], RECOVERY_BUCKETS),
    )


def _outbox_statement() -> Any:
    """Sent rows are most of the table and are skipped, and so are replaced ones (updates a
    newer update made pointless: neither waiting nor given up on); the rest per sink."""
    state = col(OutboxRow.state)
    return (
        select(col(OutboxRow.sink), state, func.count(), func.min(col(OutboxRow.created_at)))
        .where(state.not_in(OUTBOX_DONE))
        .group_by(col(OutboxRow.sink), state)
    )


def _outbox_totals(rows: Sequence[Any], now: datetime) -> tuple[OutboxTotals, ...]:
    depth: dict[str, int] = dict.fromkeys(OUTBOX_SINKS, 0)
    dead: dict[str, int] = dict.fromkeys(OUTBOX_SINKS, 0)
    oldest: dict[str, datetime] = {}
    for sink, state, count, first in rows:
        depth.setdefault(sink, 0)
        dead.setdefault(sink, 0)
        if state in OUTBOX_WAITING:
            depth[sink] += int(count)
            if first is not None and (sink not in oldest or first < oldest[sink]):
                oldest[sink] = first
        elif state == "dead":
            dead[sink] += int(count)
    return tuple(
        OutboxTotals(
            sink=sink,
            depth=depth[sink],
            oldest_age_seconds=max(0.0, (now - oldest[sink]).total_seconds())
            if sink in oldest
            else 0.0,
            dead=dead[sink],
        )
        for sink in sorted(depth)
    )


def _late_seconds() -> Any:
    """The column when set, else what the checkup's result recorded."""
    recorded = type_coerce(col(CheckupRow.result), SaJSON)["late_seconds"].as_float()
    return func.coalesce(col(CheckupRow.late_seconds), recorded)


def _checkup_statement(now: datetime) -> Any:
    state = col(CheckupRow.state)
    done = state == "done"
    return select(
        state,
        func.count(),
        _count(and_(state == "pending", col(CheckupRow.due_at) <= now)),
        _count(and_(done, _late_seconds() > 0)),
        _count(
            and_(
                done,
                or_(col(CheckupRow.color) == Color.UNKNOWN.value, col(CheckupRow.color).is_(None)),
            )
        ),
    ).group_by(state)


def _checkup_totals(rows: Sequence[Any]) -> CheckupTotals:
    by_state: dict[str, int] = dict.fromkeys(CHECKUP_STATES, 0)
    due = late = failed = 0
    for state, count, state_due, state_late, state_failed in rows:
        by_state[str(state)] = int(count)
        due += int(state_due)
        late += int(state_late)
        failed += int(state_failed)
    return CheckupTotals(by_state=by_state, due=due, late=late, failed=failed)


def _verdict_statement(since: datetime) -> Any:
    """Finished checkups of releases deployed since `since` (a day's worth: a few rows)."""
    return (
        select(
            col(CheckupRow.release_id),
            col(ReleaseRow.service),
            col(ReleaseRow.env),
            col(CheckupRow.color),
            col(CheckupRow.finished_at),
            col(CheckupRow.offset_seconds),
        )
        .join(ReleaseRow, col(ReleaseRow.id) == col(CheckupRow.release_id))
        .where(
            col(ReleaseRow.deployed_at) >= since,
            col(CheckupRow.state).in_(JUDGED),
        )
    )


def _latest_verdicts(rows: Sequence[Any]) -> tuple[ReleaseVerdict, ...]:
    """Per release, the checkup that finished last (the later offset on a tie)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for release_id, service, env, color, finished_at, offset in rows:
        key = (finished_at is not None, finished_at, offset)
        if release_id not in latest or key > latest[release_id][0]:
            latest[release_id] = (key, service, env, Color(color) if color else Color.UNKNOWN)
    return tuple(
        ReleaseVerdict(release_id=release_id, service=service, env=env, color=color)
        for release_id, (_, service, env, color) in sorted(latest.items())
    )
