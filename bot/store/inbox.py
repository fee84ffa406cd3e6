"""The inbox: every inbound request Herald acts on is recorded once under a unique key."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.store.database import Database
from bot.store.tables import InboxRow

MAX_KEY = 255


def storage_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a digest of the whole key."""
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:150]}#{hashlib.sha256(key.encode()).hexdigest()}"


async def record_once(*, database: Database, key: str, source: str, now: datetime) -> bool:
    """True the first time `key` is seen; False for a duplicate (a retry or a replay)."""
    try:
        async with database.transaction() as session:
            session.add(InboxRow(key=storage_key(key), source=source, received_at=now))
    except IntegrityError:
        return False
    return True
