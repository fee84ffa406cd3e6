"""The inbox: every inbound request Herald acts on is recorded once under a unique key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.store.database import Database
from bot.store.tables import InboxRow


async def record_once(*, database: Database, key: str, source: str, now: datetime) -> bool:
    """True the first time `key` is seen; False for a duplicate (a retry or a replay)."""
    try:
        async with database.transaction() as session:
            session.add(InboxRow(key=key[:255], source=source, received_at=now))
    except IntegrityError:
        return False
    return True
