"""The audit log and one-time action claims (compare-and-set by primary key, one row per
attempt of an action)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy import select as select_rows
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.domain.ports import AuditEntry, Claim, HeldClaim, OpenClaim
from bot.logs import correlation_id
from bot.store.database import Database
from bot.store.inbox import storage_key
from bot.store.release_rows import table_of
from bot.store.tables import ActionClaimRow, AuditRow


class SqlAuditLog:
    def __init__(self, *, database: Database) -> None:
        self._database = database

    async def record(self, entry: AuditEntry) -> None:
        async with self._database.transaction() as session:
            session.add(
                AuditRow(
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    decision=entry.decision.value,
                    outcome=entry.outcome.value,
                    service=entry.service,
                    env=entry.env,
                    release_id=entry.release_id,
                    args=entry.args,
                    detail=entry.detail[:2000],
                    response=entry.response[:4000],
                    correlation_id=correlation_id.get(),
                )
            )

    async def claim(self, *, key: str, actor: str, at: datetime, attempt: int = 1) -> Claim:
        stored = _attempt_key(key, attempt)
        row = ActionClaimRow(
            key=stored, actor=actor, at=at, scope=storage_key(key), attempt=attempt
        )
        try:
            async with self._database.transaction() as session:
                session.add(row)
        except IntegrityError:
            async with self._database.transaction() as session:
                held = await session.get(ActionClaimRow, stored)
                assert held is not None, "a claim row is never deleted"
                return Claim(won=False, holder=held.actor, at=held.at)
        return Claim(won=True, holder=actor, at=at)

    async def last_claim(self, key: str) -> HeldClaim | None:
        stored = storage_key(key)
        claims = table_of(ActionClaimRow)
        statement = (  # a row claimed before attempts has no scope: it is attempt 1, by key
            select_rows(claims)
            .where(or_(claims.c.scope == stored, claims.c.key == stored))
            .order_by(claims.c.attempt.desc())
            .limit(1)
        )
        row = await self._database.read_now(
            lambda connection: connection.execute(statement).first()
        )
        if row is None:
            return None
        return HeldClaim(attempt=row.attempt, holder=row.actor, at=row.at, left=row.left_state)

    async def finish_claim(self, *, key: str, attempt: int, left: str, at: datetime) -> None:
        async with self._database.transaction() as session:
            await session.execute(
                update(ActionClaimRow)
                .where(col(ActionClaimRow.key) == _attempt_key(key, attempt))
                .values(left_state=left[:255], finished_at=at)
            )

    async def open_claims(
        self, *, key_prefix: str, holder_prefix: str, before: datetime
    ) -> list[OpenClaim]:
        statement = select(ActionClaimRow).where(
            col(ActionClaimRow.key).startswith(key_prefix, autoescape=True),
            col(ActionClaimRow.actor).startswith(holder_prefix, autoescape=True),
            col(ActionClaimRow.finished_at).is_(None),
            col(ActionClaimRow.at) < before,
        )
        async with self._database.read() as session:
            rows = (await session.execute(statement.limit(100))).scalars().all()
        return [OpenClaim(key=row.key, holder=row.actor, at=row.at) for row in rows]


def _attempt_key(key: str, attempt: int) -> str:
    """The row of one attempt: the first under the action's key (as claims always were)."""
    return storage_key(key if attempt == 1 else f"{key}#{attempt}")
