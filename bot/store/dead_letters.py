"""Dead letters: outbox rows Herald gave up delivering, kept for inspection (`GET
/api/v1/outbox/dead`, the release detail, `herald_outbox_dead` in `/metrics`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.database import Database
from bot.store.tables import OutboxRow


async def list_dead_letters(
    *, database: Database, limit: int, release_id: str | None = None, sink: str | None = None
) -> list[dict[str, Any]]:
    """The newest dead letters first, optionally of one release or one sink."""
    async with database.read() as session:
        return await dead_letters_in(session, limit=limit, release_id=release_id, sink=sink)


async def dead_letters_in(
    session: AsyncSession, *, limit: int, release_id: str | None = None, sink: str | None = None
) -> list[dict[str, Any]]:
    statement = (
        select(OutboxRow)
        .where(col(OutboxRow.state) == "dead")
        .order_by(col(OutboxRow.id).desc())
        .limit(limit)
    )
    if release_id is not None:
        statement = statement.where(col(OutboxRow.release_id) == release_id)
    if sink is not None:
        statement = statement.where(col(OutboxRow.sink) == sink)
    return [dead_letter_view(row) for row in (await session.execute(statement)).scalars()]


def dead_letter_view(row: OutboxRow) -> dict[str, Any]:
    """What an operator needs to judge a dead letter; not its body (it may be large)."""
    return {
        "id": row.id,
        "release_id": row.release_id,
        "sink": row.sink,
        "channel": row.channel,
        "role": row.role,
        "operation": row.operation,
        "event": row.event_type,
        "attempts": row.attempts,
        "error": row.last_error,
        "ambiguous": row.ambiguous,
        "created_at": row.created_at.isoformat(),
        "failing_since": row.failing_since.isoformat() if row.failing_since else None,
        "dead_at": row.dead_at.isoformat() if row.dead_at else None,
    }
