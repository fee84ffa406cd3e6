"""The domain's view of the outside world: Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.domain.lifecycle import EventType
from bot.domain.release import Notice, RecordedEvent, Release


class ConcurrentWrite(Exception):
    """Another writer changed the release first; the use case may simply be run again."""


class Ledger(Protocol):
    """One transaction over the release store. Everything written commits together or not."""

    async def get_release(self, release_id: str) -> Release | None: ...

    async def add_release(self, release: Release) -> None: ...

    async def save_release(self, release: Release) -> None:
        """Store `release`; raises ConcurrentWrite if its revision moved meanwhile."""
        ...

    async def get_event(self, *, release_id: str, event: EventType) -> RecordedEvent | None: ...

    async def find_event_by_key(self, key: str) -> RecordedEvent | None: ...

    async def add_event(self, event: RecordedEvent) -> None: ...

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        """Write the messages these notices cause into the outbox, in this transaction."""
        ...


class LedgerFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[Ledger]: ...
