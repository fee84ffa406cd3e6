"""Opening a transaction and handing a use case the Ledger over it (bot/store/ledger.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.checkup.offsets import DEFAULT_OFFSETS
from bot.domain.ports import Ledger
from bot.domain.release.model import RecordedEvent
from bot.store.database import Database
from bot.store.ledger import CheckupOffsets, NoticeRenderer, SqlLedger, WatchConfigs
from bot.store.notice_channels import NoticeChannels
from bot.store.session_now import drive, session_on

T = TypeVar("T")
log = logging.getLogger("herald.events")


def log_recorded(events: list[RecordedEvent]) -> None:
    """One JSON log line per committed event, carrying exactly the payload Slack's message
    metadata and every other sink get (`payload`)."""
    for event in events:
        log.info("release event recorded", extra={"payload": event.payload.flat()})


class LedgerFactory:
    """Opens a transaction and hands the use case a Ledger over it."""

    def __init__(
        self,
        *,
        database: Database,
        render: NoticeRenderer,
        channels: Mapping[str, str],
        clock: Callable[[], datetime],
        on_commit: Callable[[Collection[str]], None] = lambda channels: None,
        offsets: CheckupOffsets = lambda service, env: DEFAULT_OFFSETS,
        change_events: bool = False,
        watch_configs: WatchConfigs = lambda service, env: None,
        service_channels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`channels`: channel role → the global channel; `service_channels`: service →
        its own channels by role, where it has any (bot/store/notice_channels.py)."""
        self._watch_configs = watch_configs
        self._database = database
        self._render = render
        self._channels = NoticeChannels(channels, by_service=service_channels)
        self._clock = clock
        self._on_commit = on_commit
        self._offsets = offsets
        self._change_events = change_events

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[SqlLedger]:
        async with self._database.transaction() as session:
            ledger = self._ledger(session)
            yield ledger
        log_recorded(ledger.recorded)
        if ledger.channels:  # a transaction that only read or kept state leaves them asleep
            self._on_commit(ledger.channels)

    async def run(self, use_case: Callable[[Ledger], Awaitable[T]]) -> T:
        """`use_case` in one transaction, its statements back to back in one call
        (bot/store/session_now.py): it may await the ledger and nothing else."""

        def carry_out(connection: Connection) -> tuple[T, SqlLedger]:
            session, facade = session_on(connection)
            with session:
                ledger = self._ledger(facade)
                result = drive(use_case(ledger))
                drive(ledger.flush())
            return result, ledger

        result, ledger = await self._database.write_now(carry_out)
        log_recorded(ledger.recorded)
        if ledger.channels:
            self._on_commit(ledger.channels)
        return result

    def _ledger(self, session: AsyncSession) -> SqlLedger:
        return SqlLedger(
            session=session,
            render=self._render,
            channels=self._channels,
            now=self._clock(),
            offsets=self._offsets,
            change_events=self._change_events,
            watch_configs=self._watch_configs,
        )
