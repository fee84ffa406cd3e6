"""Slack user groups as a GroupDirectory: `usergroups.users.list`, cached, failing closed."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.services.access import GroupLookupError


class SlackGroupDirectory:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def members(self, group_id: str) -> frozenset[str]:
        cached = self._cache.get(group_id)
        if cached and self._clock() - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            raise GroupLookupError(
                f"Slack answered {exc.response.get('error', 'an error')}"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GroupLookupError(f"Slack did not answer: {type(exc).__name__}") from exc
        users = frozenset(str(u) for u in response.get("users") or [])
        self._cache[group_id] = (self._clock(), users)
        return users
