"""A fake PagerDuty REST API v2 (``GET /oncalls``, ``GET /users/{id}``) over real HTTP.

Point ``PagerDutyRestClient(base_url=fake.url, token=fake.token)`` at it. It answers the
way api.pagerduty.com does: 401 with PagerDuty's error body unless the request carries
``Authorization: Token token=<token>``; ``escalation_policy_ids[]`` filters; ``earliest=true``
keeps one entry per escalation policy, level and user; ``include[]=users`` expands the
``user`` references into user objects (with ``email``); ``limit``/``offset``/``more``
paginate. On-call entries are set by the test (``put_on_call``). Faults: ``fail_next``
answers with an HTTP error, ``slow_next`` delays the answer. Depends only on aiohttp.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standins.server import LoopbackServer

__all__ = ["FakeOnCall", "FakePagerDutyRest", "RestRequest"]

API = "https://api.pagerduty.com"
START = "2025-10-02T00:00:00Z"
UNAUTHORIZED = {"error": {"message": "Authentication failed", "code": 2006}}
NOT_FOUND = {"error": {"message": "Not Found", "code": 2100}}
INVALID = {"error": {"message": "Invalid Input Provided", "code": 2001}}
PLURAL = {"user": "users", "schedule": "schedules", "escalation_policy": "escalation_policies"}


@dataclass(frozen=True)
class FakeOnCall:
    """One on-call entry: `user` is on call at `level` of `escalation_policy`."""

    user: str
    escalation_policy: str
    level: int = 1
    schedule: str | None = None
    start: str = START


@dataclass(frozen=True)
class RestRequest:
    path: str
    query: list[tuple[str, str]]
    status: int


class FakePagerDutyRest(LoopbackServer):
    def __init__(self, *, token: str = "pd-rest-test-token") -> None:
        self.token = token
        self.users: dict[str, dict[str, Any]] = {}
        self.oncalls: list[FakeOnCall] = []
        self.requests: list[RestRequest] = []
        self._faults: deque[tuple[str, float]] = deque()

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/oncalls", self._oncalls)
        app.router.add_get("/users/{user_id}", self._user)
        return app

    # -- the PagerDuty account -------------------------------------------------------------

    def add_user(self, user_id: str, *, name: str, email: str) -> None:
        self.users[user_id] = {"name": name, "email": email}

    def put_on_call(
        self,
        user_id: str,
        *,
        escalation_policy: str,
        level: int = 1,
        schedule: str | None = None,
        start: str = START,
    ) -> None:
        self.oncalls.append(FakeOnCall(user_id, escalation_policy, level, schedule, start))

    def clear_on_call(self) -> None:
        self.oncalls.clear()

    def requests_to(self, path: str) -> list[RestRequest]:
        return [r for r in self.requests if r.path == path]

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        self._faults.extend(("fail", float(status)) for _ in range(times))

    def slow_next(self, seconds: float, times: int = 1) -> None:
        self._faults.extend(("slow", seconds) for _ in range(times))

    # -- HTTP ------------------------------------------------------------------------------

    async def _answer(
        self, request: web.Request, body: dict[str, Any], status: int = 200
    ) -> web.Response:
        if self._faults:
            kind, value = self._faults.popleft()
            if kind == "slow":
                await asyncio.sleep(value)
            else:
                status, body = int(value), {"error": {"message": "Internal error", "code": 0}}
        self.requests.append(RestRequest(request.path, list(request.query.items()), status))
        return web.json_response(body, status=status)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Token token={self.token}"

    async def _oncalls(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return await self._answer(request, UNAUTHORIZED, 401)
        query = request.query
        policies = set(query.getall("escalation_policy_ids[]", []))
        expand = "users" in query.getall("include[]", [])
        entries = [o for o in self.oncalls if not policies or o.escalation_policy in policies]
        if query.get("earliest", "").lower() == "true":
            entries = _earliest(entries)
        try:
            limit = min(int(query.get("limit", "25")), 100)
            offset = int(query.get("offset", "0"))
        except ValueError:
            return await self._answer(request, INVALID, 400)
        page = entries[offset : offset + limit]
        return await self._answer(
            request,
            {
                "oncalls": [self._render(entry, expand=expand) for entry in page],
                "limit": limit,
                "offset": offset,
                "more": offset + limit < len(entries),
                "total": None,
            },
        )

    async def _user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return await self._answer(request, UNAUTHORIZED, 401)
        user_id = request.match_info["user_id"]
        if user_id not in self.users:
            return await self._answer(request, NOT_FOUND, 404)
        return await self._answer(request, {"user": self._user_object(user_id)})

    def _render(self, entry: FakeOnCall, *, expand: bool) -> dict[str, Any]:
        user = self._user_object(entry.user) if expand else _reference("user", entry.user)
        schedule = _reference("schedule", entry.schedule) if entry.schedule else None
        return {
            "escalation_policy": _reference("escalation_policy", entry.escalation_policy),
            "escalation_level": entry.level,
            "schedule": schedule,
            "user": user,
            "start": entry.start if entry.schedule else None,
            "end": None,
        }

    def _user_object(self, user_id: str) -> dict[str, Any]:
        known = self.users.get(user_id, {"name": user_id, "email": f"{user_id.lower()}@x.test"})
        return {
            "id": user_id,
            "type": "user",
            "summary": known["name"],
            "self": f"{API}/users/{user_id}",
            "html_url": f"https://herald-test.pagerduty.com/users/{user_id}",
            "name": known["name"],
            "email": known["email"],
            "time_zone": "Etc/UTC",
            "role": "user",
        }


def _reference(kind: str, item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": f"{kind}_reference",
        "summary": item_id,
        "self": f"{API}/{PLURAL[kind]}/{item_id}",
        "html_url": f"https://herald-test.pagerduty.com/{PLURAL[kind]}/{item_id}",
    }


def _earliest(entries: list[FakeOnCall]) -> list[FakeOnCall]:
    """One entry per (escalation policy, level, user): the one that starts first."""
    kept: dict[tuple[str, int, str], FakeOnCall] = {}
    for entry in sorted(entries, key=lambda e: e.start):
        kept.setdefault((entry.escalation_policy, entry.level, entry.user), entry)
    return sorted(kept.values(), key=lambda e: (e.escalation_policy, e.level, e.user))
