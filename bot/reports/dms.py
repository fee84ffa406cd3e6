"""DMs about releases: each person who opted in (the Home tab) hears, once, when a release of
a service they own ships or fails. Claimed like a report period (bot/store/reports.py), so
two replicas or a restart send each DM once; delivered through the outbox to the person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.deploy.context import Operations
from bot.domain.home.dms import DmBook
from bot.domain.services.access import owns
from bot.store.database import Database
from bot.store.dms import ReleaseNews, recent_news
from bot.store.reports import Owed, ReportMessage, queue_owed

LOOKBACK = timedelta(minutes=15)  # news older than this when Herald first sees it is let go

DmRenderer = Callable[[ReleaseNews], dict[str, Any]]


@dataclass(frozen=True)
class DmNotifier:
    ops: Operations
    book: DmBook
    database: Database
    render: DmRenderer
    wake: Callable[[], None] = lambda: None

    async def run(self) -> int:
        """Queue every DM owed and not claimed yet; how many this run queued."""
        subscribers = await self.book.subscribers()
        if not subscribers:
            return 0
        now = self.ops.clock()
        owed = {
            _key(news, user): Owed(user, [ReportMessage(role="dm", body=self.render(news))])
            for news in await recent_news(self.database, since=now - LOOKBACK)
            for user in await self._owners(news, subscribers)
        }
        sent = await queue_owed(self.database, owed, now=now)
        if sent:
            self.wake()
        return sent

    async def _owners(self, news: ReleaseNews, subscribers: dict[str, datetime]) -> list[str]:
        """The subscribers who own the release's service and opted in before the news."""
        entry = self.ops.directory.services.get(news.service)
        if entry is None:
            return []
        since = {user: at for user, at in subscribers.items() if at <= news.received_at}
        return [user for user in since if await owns(user, entry, self.ops.groups)]


def _key(news: ReleaseNews, user: str) -> str:
    return f"dm:{news.release_id}:{news.event.value}:{user}"
