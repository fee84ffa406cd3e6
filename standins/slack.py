"""A fake Slack Web API over real HTTP, for tests and ``herald demo``.

Point ``AsyncWebClient(token=..., base_url=fake.api_url)`` at it. It records every call
with its parsed body, keeps the posted messages, answers like Slack (including Slack's
``ok: false`` rejections) and can inject faults: HTTP errors, rate limits, dropped
connections, delays and a full outage. Depends only on aiohttp and the standard library.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from standins.server import LoopbackServer
from standins.slack_limits import validate_blocks
from standins.slack_messages import (
    TEAM_ID,
    SlackCall,
    SlackError,
    SlackMessage,
    decode_json_fields,
)
from standins.slack_rate import ChannelPostLimit
from standins.slack_socket import SocketModeServer
from standins.slack_workspace import SlackWorkspace

__all__ = ["FakeSlack", "SlackCall", "SlackMessage"]


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class FakeSlack(LoopbackServer, SlackWorkspace):
    """The Slack Web API methods Herald uses, on ``http://127.0.0.1:<ephemeral port>``.

    Faults registered with ``*_next`` count down independently on every call of their
    method; when several apply to one call: delay first, then 500 > 429 > refusal > normal
    answer, and a pending drop swallows whichever answer results.
    """

    def __init__(
        self,
        *,
        token: str = "xoxb-herald-test",
        app_token: str = "xapp-1-herald-test",
        channels: Iterable[str] = ("CFEED", "COPS"),
        users: Iterable[str] = ("U_ONCALL", "U_OWNER", "U_STRANGER"),
        usergroups: Mapping[str, Iterable[str]] | None = None,
        emails: Mapping[str, str] | None = None,
        ts_base: int | None = None,
        post_limit_per_channel: float | None = None,  # chat.postMessage a second, per channel
        burst: int = 1,
    ) -> None:
        super().__init__(channels=channels, users=users, usergroups=usergroups, ts_base=ts_base)
        self.emails = {k.lower(): v for k, v in (emails or {}).items()}  # email -> user id
        self.handlers["users.lookupByEmail"] = self._lookup_by_email
        self.token = token
        self.app_token = app_token
        self.socket_mode = SocketModeServer()
        self.calls: list[SlackCall] = []
        self.responses: list[dict[str, Any]] = []  # JSON bodies POSTed to response URLs
        self.answered_at: dict[str, float] = {}  # response URL key → time.time() of its last
        self._faults: dict[tuple[str, str], list[float]] = {}
        self._refusals: dict[str, list[str]] = {}  # method -> Slack errors still to answer
        self._failing: dict[str, tuple[Callable[[dict[str, Any]], bool], int]] = {}
        self._outage = False
        limit = post_limit_per_channel
        self.post_limit = None if limit is None else ChannelPostLimit(limit, burst)

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self.socket_mode.handle)
        return app

    async def close(self) -> None:
        await self.socket_mode.close()
        await super().close()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    # -- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                try:
                    what = inspect.getsource(predicate).strip()
                except (OSError, TypeError):
                    what = repr(predicate)
                recent = ", ".join(f"{c.method}(ok={c.ok})" for c in self.calls[-10:])
                raise AssertionError(
                    f"FakeSlack.wait_for timed out after {timeout}s: {what}\n"
                    f"{len(self.calls)} calls so far; last: {recent or 'none'}"
                )
            await asyncio.sleep(0.01)

    def add_person(self, user: str, *, email: str) -> None:
        """A workspace member `users.lookupByEmail` finds by `email`."""
        self.users.add(user)
        self.emails[email.lower()] = user

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 500, times: int = 1) -> None:
        self._faults[(method, "fail")] = [times, status]

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._faults[(method, "ratelimit")] = [times, retry_after]

    def drop_after_post_next(self, method: str, *, times: int = 1) -> None:
        self._faults[(method, "drop")] = [times, 0]

    def refuse_next(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next call(s) of `method` with Slack's ``{"ok": false, "error": error}``
        (HTTP 200) instead of doing what they ask, as Slack does when it refuses a call."""
        self._refusals[method] = [error] * times

    def fail_when(
        self, method: str, matches: Callable[[dict[str, Any]], bool], *, status: int = 500
    ) -> None:
        """Answer every call of `method` whose arguments `matches` with HTTP `status`
        (one message Slack keeps failing on), until `stop_failing(method)`."""
        self._failing[method] = (matches, status)

    def stop_failing(self, method: str) -> None:
        self._failing.pop(method, None)

    def delay_next(self, method: str, *, seconds: float, times: int = 1) -> None:
        self._faults[(method, "delay")] = [times, seconds]

    def limit_posts_per_channel(self, per_second: float = 1.0, *, burst: int = 1) -> None:
        """Slack's own limit from now on: `chat.postMessage` beyond `per_second` (after a burst
        of `burst`) in one channel answers 429 with Retry-After (standins/slack_rate.py)."""
        self.post_limit = ChannelPostLimit(per_second=per_second, burst=burst)

    def set_outage(self, down: bool) -> None:
        self._outage = down

    def _take(self, method: str, kind: str) -> float | None:
        fault = self._faults.get((method, kind))
        if fault is None or fault[0] <= 0:
            return None
        fault[0] -= 1
        return fault[1]

    # -- HTTP plumbing ---------------------------------------------------------------------

    async def _respond(
        self,
        method: str,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        args: dict[str, Any] | None = None,
    ) -> _Answer:
        if self._outage:
            return _Answer(503, {"ok": False, "error": "service_unavailable"})
        delay, fail = self._take(method, "delay"), self._take(method, "fail")
        failing = self._failing.get(method)
        if fail is None and failing is not None and failing[0](args or {}):
            fail = failing[1]
        limit, drop = self._take(method, "ratelimit"), self._take(method, "drop")
        if limit is None and fail is None and method == "chat.postMessage" and self.post_limit:
            limit = self.post_limit.retry_after(str((args or {}).get("channel")))
        refusals = self._refusals.get(method)
        refusal = refusals.pop(0) if refusals else None
        if delay is not None:
            await asyncio.sleep(delay)
        if fail is not None:
            answer = _Answer(int(fail), {"ok": False, "error": "internal_error"})
        elif limit is not None:
            headers = {"Retry-After": str(int(limit))}
            answer = _Answer(429, {"ok": False, "error": "ratelimited"}, headers)
        elif refusal is not None:
            answer = _Answer(200, {"ok": False, "error": refusal})
        else:
            try:
                answer = _Answer(200, await compute())
            except SlackError as e:
                answer = _Answer(e.status, e.body())
        answer.drop = drop is not None
        return answer

    @staticmethod
    def _send(request: web.Request, answer: _Answer) -> web.StreamResponse:
        if answer.drop and request.transport is not None:
            request.transport.close()  # no HTTP response at all
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        method = request.match_info["method"]
        args, parse_error = await _read_args(request)
        auth = request.headers.get("Authorization", "")
        body_token = args.pop("token", None)
        token = (auth[7:] if auth.startswith("Bearer ") else None) or body_token or None
        token = None if token is None else str(token)

        async def compute() -> dict[str, Any]:
            handler = self.handlers.get(method)
            if handler is None and method != "apps.connections.open":
                raise SlackError("unknown_method", req_method=method)
            if parse_error is not None:
                raise parse_error
            if token is None:
                raise SlackError("not_authed")
            if method == "apps.connections.open":
                if token != self.app_token:  # only the app-level token opens connections
                    raise SlackError("invalid_auth")
                return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
            if token != self.token:
                raise SlackError("invalid_auth")
            assert handler is not None
            return {"ok": True, **handler(args)}

        answer = await self._respond(method, compute, args)
        self.calls.append(SlackCall(method, args, token, at, answer.body.get("ok") is True))
        return self._send(request, answer)

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = args.get("email")
        if not isinstance(email, str) or not email:
            raise SlackError("invalid_arguments")
        user = self.emails.get(email.lower())
        if user is None:
            raise SlackError("users_not_found")
        profile = {"email": email, "real_name": user, "display_name": user}
        return {
            "user": {
                "id": user,
                "team_id": TEAM_ID,
                "name": user.lower(),
                "deleted": False,
                "is_bot": False,
                "real_name": user,
                "profile": profile,
            }
        }

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        key, raw = request.match_info["key"], await request.read()

        async def compute() -> dict[str, Any]:
            try:
                payload = json.loads(raw)
            except ValueError:
                raise SlackError("invalid_payload", status=400) from None
            if not isinstance(payload, dict):
                raise SlackError("invalid_payload", status=400)
            if "blocks" in payload and (errors := validate_blocks(payload["blocks"])):
                raise SlackError("invalid_blocks", status=400, errors=errors)
            self.responses.append({**payload, "_key": key})
            self.answered_at[key] = time.time()
            return {"ok": True}

        return self._send(request, await self._respond("response_url", compute))

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if file_id not in self._pending_files:
            return web.Response(status=404, text="file_not_found")
        data = await request.read()
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")


async def _read_args(request: web.Request) -> tuple[dict[str, Any], SlackError | None]:
    """Query params merged with a JSON or form body; JSON-string fields decoded."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                return args, SlackError("invalid_json")
            if not isinstance(body, dict):
                return args, SlackError("json_not_object")
            args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                args[key] = value if isinstance(value, str) else f"<file {key}>"
    return decode_json_fields(args), None
