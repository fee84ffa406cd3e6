"""DMs about one's releases: a person opts in on Herald's Home tab to hear, in a DM, when a
release of their services ships or fails (bot/reports/dms.py sends them, once each)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class DmBook(Protocol):
    async def subscribe(self, user: str, *, at: datetime) -> None: ...

    async def unsubscribe(self, user: str) -> None: ...

    async def subscribed(self, user: str) -> bool: ...

    async def subscribers(self) -> dict[str, datetime]:
        """Who asked for DMs, and since when (news older than that is not theirs)."""
        ...
