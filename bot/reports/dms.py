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
from bot.store.reports import ReportMessage, claim_and_queue, claimed

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
            _key(news, user): (news, user)
            for news in await recent_news(self.database, since=now - LOOKBACK)
            for user in await self._owners(news, subscribers)
        }
        taken = await claimed(self.database, list(owed))
        sent = 0
        for key, (news, user) in owed.items():
            if key not in taken:
                sent += await self._queue(key, news, user, now)
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

    async def _queue(self, key: str, news: ReleaseNews, user: str, now: datetime) -> int:
        message = ReportMessage(role="dm", body=self.render(news))
        queued = await claim_and_queue(
            self.database, key=key, channel=user, messages=[message], now=now
        )
        return int(queued)


def _key(news: ReleaseNews, user: str) -> str:
    return f"dm:{news.release_id}:{news.event.value}:{user}"
