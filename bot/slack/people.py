"""Slack users by email (`users.lookupByEmail`, scope `users:read.email`): how a PagerDuty
on-call becomes a Slack user id."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.services.oncall import OnCallLookupError


class SlackPeople:
    def __init__(self, *, client: AsyncWebClient) -> None:
        self._client = client

    async def user_id_by_email(self, email: str) -> str | None:
        """The Slack user id of `email`; None when nobody in the workspace has it."""
        try:
            response = await self._client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            error = exc.response.get("error", "an error")
            if error == "users_not_found":
                return None
            raise OnCallLookupError(f"Slack answered {error} to users.lookupByEmail") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OnCallLookupError(f"Slack did not answer: {type(exc).__name__}") from exc
        user = response.get("user") or {}
        if user.get("deleted"):
            return None
        user_id = user.get("id")
        return str(user_id) if user_id else None
