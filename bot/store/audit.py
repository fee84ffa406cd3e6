"""The audit log and one-time action claims (compare-and-set by primary key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.domain.ports import AuditEntry, Claim
from bot.logs import correlation_id
from bot.store.database import Database
from bot.store.inbox import storage_key
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

    async def claim(self, *, key: str, actor: str, at: datetime) -> Claim:
        stored = storage_key(key)
        try:
            async with self._database.transaction() as session:
                session.add(ActionClaimRow(key=stored, actor=actor, at=at))
        except IntegrityError:
            async with self._database.transaction() as session:
                row = await session.get(ActionClaimRow, stored)
                assert row is not None, "a claim row is never deleted"
                return Claim(won=False, holder=row.actor, at=row.at)
        return Claim(won=True, holder=actor, at=at)
