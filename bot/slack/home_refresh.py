"""Keeping open Home tabs current: the people who opened Herald's Home recently have it
published again when what it shows changed, at most `per_run` publishes a run (every 30 s:
within `views.publish`'s ~100 calls a minute), however many events changed it meanwhile."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations
from bot.domain.home.screen import ServiceFigures, build_board, build_home
from bot.slack.home_view import home_view

log = logging.getLogger(__name__)
KEPT_FOR = timedelta(hours=12)  # a Home opened longer ago than this is not refreshed


class HomeViewers:
    def __init__(
        self,
        *,
        ops: Operations,
        client: AsyncWebClient,
        clock: Callable[[], datetime],
        per_run: int = 40,
    ) -> None:
        self._ops = ops
        self._client = client
        self._clock = clock
        self._per_run = per_run
        self._seen: dict[str, tuple[datetime, str]] = {}  # user → (opened at, what it shows)

    async def publish(self, user: str) -> None:
        """`user` opened the Home tab: publish it now and keep it current from here on."""
        view = home_view(await build_home(self._ops, user=user))
        await self._client.views_publish(user_id=user, view=view)
        self._seen[user] = (self._clock(), _digest(view))

    async def refresh(self) -> int:
        """Publish again the Home tabs whose content changed; how many were published."""
        now = self._clock()
        for user in [u for u, (at, _) in self._seen.items() if now - at > KEPT_FOR]:
            del self._seen[user]
        if not self._seen:
            return 0
        board = await build_board(self._ops)  # what every Home shows alike, read once
        figures: dict[str, ServiceFigures] = {}  # and each service's DORA, once
        published = 0
        for user, (opened, shown) in list(self._seen.items()):
            if published >= self._per_run:
                break
            screen = await build_home(self._ops, user=user, board=board, figures=figures)
            view = home_view(screen)
            if _digest(view) == shown:
                continue
            try:
                await self._client.views_publish(user_id=user, view=view)
            except SlackApiError as exc:
                log.warning("a Home tab was not refreshed: %s", exc.response.get("error"))
                continue
            self._seen[user] = (opened, _digest(view))
            published += 1
        return published


def _digest(view: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
