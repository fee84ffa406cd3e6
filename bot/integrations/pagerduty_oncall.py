"""Who is on call, from PagerDuty's REST API: Herald's ``OnCallDirectory``.

A thin async client (the ``pagerduty`` package is sync and refuses non-https base URLs): one
``GET /oncalls?escalation_policy_ids[]=…&earliest=true&include[]=users`` per escalation
policy gives the users at its lowest escalation level with their emails (``GET /users/{id}``
only when an email is missing); Slack's ``users.lookupByEmail`` turns them into Slack user
ids. Answers are cached per escalation policy for 60 s. Every failure becomes an
``OnCallLookupError`` whose message a user can read; the token only goes into the header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from bot.domain.services.oncall import OnCallLookupError
from bot.errors import IntegrationError
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService

__all__ = ["OnCallUser", "PagerDutyOnCallDirectory", "PagerDutyRestClient"]

log = logging.getLogger(__name__)
ACCEPT = "application/vnd.pagerduty+json;version=2"


@dataclass(frozen=True)
class OnCallUser:
    id: str
    name: str
    email: str | None


class PagerDutyRestClient:
    """The two REST calls Herald needs, against one PagerDuty API base URL."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._http = HttpService(
            session=session,
            service="PagerDuty",
            base_url=base_url,
            headers={"Authorization": f"Token token={token}", "Accept": ACCEPT},
            timeout_seconds=timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"PagerDutyRestClient(base_url={self._http.base_url!r})"  # never the token

    async def first_responders(self, escalation_policy: str) -> list[OnCallUser]:
        """The users on call now at the policy's lowest escalation level (normally 1)."""
        params = [
            ("escalation_policy_ids[]", escalation_policy),
            ("earliest", "true"),
            ("include[]", "users"),
            ("limit", "100"),
        ]
        data = await self._get("/oncalls", params)
        entries = [
            e
            for e in data.get("oncalls") or []
            if isinstance(e, dict) and isinstance(e.get("user"), dict)
        ]
        levels = [e.get("escalation_level") for e in entries]
        lowest = min((level for level in levels if isinstance(level, int)), default=None)
        users: dict[str, OnCallUser] = {}
        for entry in entries:
            if entry.get("escalation_level") == lowest:
                user = _user(entry["user"])
                users.setdefault(user.id, user)
        missing = [u.id for u in users.values() if u.email is None]
        for user in await asyncio.gather(*(self.user(user_id) for user_id in missing)):
            users[user.id] = user
        return list(users.values())

    async def user(self, user_id: str) -> OnCallUser:
        data = await self._get(f"/users/{quote(user_id, safe='')}", [])
        body = data.get("user")
        if not isinstance(body, dict):
            raise OnCallLookupError("PagerDuty sent a user without a body")
        return _user(body)

    async def _get(self, path: str, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        try:
            answer = await self._http.request("GET", path, params=params)
        except ErrorAnswer as e:  # logged by the helper
            raise OnCallLookupError(_refusal(e.answer.status, _json(e.answer.body))) from e
        except IntegrationError as e:
            raise OnCallLookupError(self._unreachable(e)) from e
        data = _json(answer.body)
        if answer.status != 200:  # a 2xx or 3xx that is not the answer asked for
            log.warning("PagerDuty answered %s to GET %s", answer.status, path)
            raise OnCallLookupError(_refusal(answer.status, data))
        if data is None:
            raise OnCallLookupError("PagerDuty sent an answer Herald cannot read")
        return data

    def _unreachable(self, error: IntegrationError) -> str:
        kind = error.extra.get("error")
        if kind == TIMEOUT:
            return f"PagerDuty did not answer in {self._http.timeout_seconds:g} s"
        return f"PagerDuty could not be reached ({kind})"


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refusal(status: int, data: Mapping[str, Any] | None) -> str:
    error = (data or {}).get("error")
    detail = error.get("message") if isinstance(error, dict) else None
    said = f": {detail}" if isinstance(detail, str) and detail else ""
    if status == 401:
        return f"PagerDuty refused PAGERDUTY_API_TOKEN (401{said})"
    if status == 403:
        return f"PAGERDUTY_API_TOKEN may not read on-calls (403{said})"
    if status == 429:
        return "PagerDuty is rate-limiting Herald (429); try again in a minute"
    return f"PagerDuty answered {status}{said}"


def _user(body: Mapping[str, Any]) -> OnCallUser:
    email = body.get("email")
    return OnCallUser(
        id=str(body.get("id", "")),
        name=str(body.get("name") or body.get("summary") or ""),
        email=str(email) if isinstance(email, str) and email else None,
    )


class EmailDirectory(Protocol):
    async def user_id_by_email(self, email: str) -> str | None: ...


class PagerDutyOnCallDirectory:
    """``OnCallDirectory``: service → escalation policy → PagerDuty users → Slack user ids."""

    def __init__(
        self,
        *,
        client: PagerDutyRestClient,
        people: EmailDirectory,
        policy_for: Callable[[str], str | None],
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._people = people
        self._policy_for = policy_for
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lookups: dict[str, asyncio.Task[frozenset[str]]] = {}

    async def on_call(self, service: str) -> frozenset[str]:
        policy = self._policy_for(service)
        if not policy:
            return frozenset()
        cached = self._cache.get(policy)
        if cached and self._clock() - cached[0] < self._ttl:
            return cached[1]
        lookup = self._lookups.get(policy)
        if lookup is None:  # callers arriving meanwhile share the one lookup in flight
            lookup = asyncio.create_task(self._refresh(policy))
            self._lookups[policy] = lookup
            lookup.add_done_callback(partial(self._forget, policy))
        return await asyncio.shield(lookup)

    async def _refresh(self, policy: str) -> frozenset[str]:
        users = await self._slack_ids(policy)
        self._cache[policy] = (self._clock(), users)
        return users

    def _forget(self, policy: str, lookup: asyncio.Task[frozenset[str]]) -> None:
        self._lookups.pop(policy, None)
        if not lookup.cancelled():
            lookup.exception()  # retrieved: a failure nobody awaited any more is not logged

    async def _slack_ids(self, policy: str) -> frozenset[str]:
        responders = await self._client.first_responders(policy)
        ids = await asyncio.gather(
            *(self._people.user_id_by_email(u.email) for u in responders if u.email)
        )
        found = frozenset(i for i in ids if i)
        if responders and not found:
            log.warning(
                "nobody on call in PagerDuty has a Slack account with the same email",
                extra={"escalation_policy": policy, "pagerduty_users": len(responders)},
            )
        return found
