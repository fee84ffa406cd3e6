"""Watch rows: started by a lifecycle event, claimed every interval across replicas, finished.

A watch is claimed as a checkup is (compare-and-set on state and due time, SKIP LOCKED on
PostgreSQL, a lease so a runner that dies hands it on), then saved with its next due time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from bot.domain.watch.hysteresis import WatchState
from bot.domain.watch.queries import CanaryScope
from bot.domain.watch.watch import Watch, WatchPurpose
from bot.store.database import Database
from bot.store.tables import WatchRow

ACTIVE, ROLLING_BACK = "active", "rollback"
LIVE = (ACTIVE, ROLLING_BACK)


async def start_watch(
    session: AsyncSession,
    *,
    release_id: str,
    service: str,
    env: str,
    purpose: WatchPurpose,
    origin: datetime,
    ends_at: datetime,
    due_at: datetime,
    now: datetime,
) -> bool:
    """Add the watch unless the release has one of this purpose already (True if added),
    ending the one it takes over from: a release's watch ends the older releases' watches of
    its service and env; a recovery watch ends the release's own."""
    if purpose is WatchPurpose.RELEASE:
        await stop_watches(
            session,
            service=service,
            env=env,
            purpose=purpose,
            state="superseded",
            besides=release_id,
            now=now,
        )
    else:
        await stop_watches(
            session,
            service=service,
            env=env,
            purpose=WatchPurpose.RELEASE,
            state="done",
            release_id=release_id,
            now=now,
        )
    existing = await session.execute(
        select(col(WatchRow.id)).where(
            col(WatchRow.release_id) == release_id, col(WatchRow.purpose) == purpose.value
        )
    )
    if existing.first() is not None:
        return False
    session.add(
        WatchRow(
            release_id=release_id,
            service=service,
            env=env,
            purpose=purpose.value,
            origin=origin,
            ends_at=ends_at,
            due_at=due_at,
            progress=WatchState(origin=origin).encode(),
            created_at=now,
        )
    )
    return True


async def stop_watches(
    session: AsyncSession,
    *,
    service: str,
    env: str,
    purpose: WatchPurpose,
    state: str,
    now: datetime,
    besides: str | None = None,
    release_id: str | None = None,
) -> list[str]:
    """End the live watches of `purpose` for `service` in `env` (of one release, or of every
    release but `besides`); returns their release ids."""
    where = [
        col(WatchRow.service) == service,
        col(WatchRow.env) == env,
        col(WatchRow.purpose) == purpose.value,
        col(WatchRow.state) == ACTIVE,
    ]
    if besides is not None:
        where.append(col(WatchRow.release_id) != besides)
    if release_id is not None:
        where.append(col(WatchRow.release_id) == release_id)
    rows = await session.execute(
        update(WatchRow)
        .where(*where)
        .values(state=state, finished_at=now, lease_until=None)
        .returning(col(WatchRow.release_id))
    )
    return [release for (release,) in rows.all()]


def _due(now: datetime) -> Any:
    """Live and due: its next evaluation, or a runner that held it died (the lease ran out)."""
    return and_(col(WatchRow.state).in_(LIVE), col(WatchRow.due_at) <= now)


async def claim_due(
    *, database: Database, now: datetime, lease: timedelta, limit: int = 100
) -> list[Watch]:
    """Claim up to `limit` due watches: `due_at` moves to the end of the lease, so a runner
    that dies mid-evaluation hands the watch on when its lease runs out."""
    chosen = (
        select(col(WatchRow.id))
        .where(_due(now))
        .order_by(col(WatchRow.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(WatchRow)
        .where(col(WatchRow.id).in_(chosen.scalar_subquery()), _due(now))
        .values(due_at=now + lease, lease_until=now + lease, attempts=col(WatchRow.attempts) + 1)
        .returning(WatchRow)
    )
    async with database.transaction() as session:
        rows = (await session.execute(statement)).scalars().all()
        return [watch_from_row(row) for row in rows]


def _held(watch: Watch) -> Any:
    """The watch's row, still live and still claimed by this runner (its attempt count)."""
    return and_(
        col(WatchRow.id) == watch.id,
        col(WatchRow.attempts) == watch.attempts,
        col(WatchRow.state).in_(LIVE),
    )


def watch_from_row(row: WatchRow) -> Watch:
    canary = None
    if row.canary_hash and row.stable_hash:
        canary = CanaryScope(canary=row.canary_hash, stable=row.stable_hash)
    return Watch(
        id=row.id or 0,
        release_id=row.release_id,
        service=row.service,
        env=row.env,
        purpose=WatchPurpose(row.purpose),
        state=WatchState.decode(row.progress),
        ends_at=row.ends_at,
        attempts=row.attempts,
        posted=row.posted,
        rollback_owed=row.state == ROLLING_BACK,
        healthy_since=row.healthy_since,
        alert_resolved_at=row.alert_resolved_at,
        canary=canary,
    )


async def save_watch(
    session: AsyncSession,
    *,
    watch: Watch,
    due_at: datetime,
    finished: str | None,
    reason: str | None,
    now: datetime,
    failed: bool = False,
) -> bool:
    """Keep the watch's progress; `finished` ends it in that state, `failed` counts an
    evaluation that could not be judged. False when the claim was lost (another runner took
    the watch after this one's lease ran out)."""
    state = finished or (ROLLING_BACK if watch.rollback_owed else ACTIVE)
    canary = watch.canary
    result = await session.execute(
        update(WatchRow)
        .where(_held(watch))
        .values(
            progress=watch.state.encode(),
            state=state,
            due_at=due_at,
            lease_until=None,
            posted=watch.posted,
            color=watch.state.announced.value if watch.state.announced else None,
            reason=reason[:500] if reason else None,
            healthy_since=watch.healthy_since,
            canary_hash=canary.canary if canary else None,
            stable_hash=canary.stable if canary else None,
            finished_at=now if finished else None,
            failures=col(WatchRow.failures) + (1 if failed else 0),
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def note_alert_resolved(
    session: AsyncSession, *, release_id: str, at: datetime, now: datetime
) -> bool:
    """The release's alert resolved at `at`: its recovery watch (if live) looks again now."""
    result = await session.execute(
        update(WatchRow)
        .where(
            col(WatchRow.release_id) == release_id,
            col(WatchRow.purpose) == WatchPurpose.RECOVERY.value,
            col(WatchRow.state) == ACTIVE,
        )
        .values(alert_resolved_at=at, due_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def is_watching(session: AsyncSession, *, release_id: str, purpose: WatchPurpose) -> bool:
    found = await session.execute(
        select(col(WatchRow.id)).where(
            col(WatchRow.release_id) == release_id,
            col(WatchRow.purpose) == purpose.value,
            col(WatchRow.state).in_(LIVE),
        )
    )
    return found.first() is not None


async def find_watch(*, database: Database, release_id: str, purpose: WatchPurpose) -> Watch | None:
    async with database.read() as session:
        row = (
            await session.execute(
                select(WatchRow).where(
                    col(WatchRow.release_id) == release_id,
                    col(WatchRow.purpose) == purpose.value,
                )
            )
        ).scalar_one_or_none()
        return watch_from_row(row) if row else None


async def note_failure(
    *, database: Database, watch: Watch, reason: str, now: datetime, finish: bool
) -> bool:
    """An evaluation that raised before it could be saved: counted, with its reason; a watch
    past its end is finished, so it is not claimed forever. False when the claim was lost."""
    values: dict[str, Any] = {"failures": col(WatchRow.failures) + 1, "reason": reason[:500]}
    if finish:
        values.update(state="done", finished_at=now, lease_until=None)
    async with database.transaction() as session:
        result = await session.execute(update(WatchRow).where(_held(watch)).values(**values))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def failures_statement() -> Any:
    """All watch evaluations that could not be judged, ever (a counter for `/metrics`)."""
    return select(func.coalesce(func.sum(col(WatchRow.failures)), 0))
