"""A fake PagerDuty Events API v2 (alerts and change events) over real HTTP.

Point ``PagerDutyClient(events_url=fake.url)`` at it. It answers like PagerDuty (202,
400 ``invalid event``, 429, 5xx), keeps alerts with PagerDuty's dedup semantics and can
inject faults. Given the saved OpenAPI spec (``spec=``: the parsed document or its path)
it validates every request body against the spec's request schema with jsonschema;
without one (``herald demo``) only the documented rules the schema does not carry are
checked. Depends only on aiohttp and the standard library (jsonschema is imported lazily,
only when a spec is given).

Faults queue up in the order they are registered and each request takes the first
pending one: ``rate_limit_next(); fail_next(); accept_then_reset_next()`` answers the next
three requests with 429, then 500, then processes the event and drops the connection.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlparse

from aiohttp import web

from standins.server import LoopbackServer

__all__ = ["FakeAlert", "FakePagerDuty", "PagerDutyRequest"]

MAX_BODY: Final = 512 * 1024
MAX_SUMMARY: Final = 1024
MAX_DEDUP_KEY: Final = 255
ROUTING_KEY_LENGTH: Final = 32
ACTIONS: Final = ("trigger", "acknowledge", "resolve")
SEVERITIES: Final = ("critical", "error", "warning", "info")
ENQUEUE, CHANGE = "/v2/enqueue", "/v2/change/enqueue"

AlertStatus = Literal["triggered", "acknowledged", "resolved"]
_FaultKind = Literal["ratelimit", "fail", "reset", "slow"]


@dataclass
class FakeAlert:
    """One alert: the events applied to it, in order (trigger first)."""

    dedup_key: str
    status: AlertStatus = "triggered"
    events: list[dict[str, Any]] = field(default_factory=list)
    routing_key: str = ""

    @property
    def open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class PagerDutyRequest:
    """One request as received; ``status`` 0 means the connection was dropped unanswered."""

    path: str
    body: Any  # the parsed JSON, or None when it was not JSON
    status: int
    at: float  # time.monotonic()


@dataclass
class _Fault:
    kind: _FaultKind
    value: float | None = None


class _Invalid(Exception):
    def __init__(self, status: str, message: str, errors: list[str]) -> None:
        super().__init__(message)
        self.body = {"status": status, "message": message, "errors": errors}


class FakePagerDuty(LoopbackServer):
    """``POST /v2/enqueue`` and ``POST /v2/change/enqueue`` on ``http://127.0.0.1:<port>``."""

    def __init__(self, *, spec: Mapping[str, Any] | str | Path | None = None) -> None:
        self.requests: list[PagerDutyRequest] = []
        self.events: list[dict[str, Any]] = []  # accepted /v2/enqueue bodies
        self.change_events: list[dict[str, Any]] = []  # accepted /v2/change/enqueue bodies
        self.alerts: list[FakeAlert] = []
        self._faults: deque[_Fault] = deque()
        self._schemas: dict[str, Any] | None = None
        if spec is not None:
            self._schemas = _load_validators(spec)

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * MAX_BODY)  # we answer "too large" ourselves
        app.router.add_post(ENQUEUE, self._enqueue)
        app.router.add_post(CHANGE, self._change)
        return app

    # -- inspection and the human side -----------------------------------------------------

    def open_alerts(self) -> list[FakeAlert]:
        return [a for a in self.alerts if a.open]

    def alerts_for(self, dedup_key: str) -> list[FakeAlert]:
        return [a for a in self.alerts if a.dedup_key == dedup_key]

    def resolve_by_human(self, dedup_key: str) -> None:
        """Resolve the open alert(s) with this key, as an on-call engineer would."""
        self._set_status(dedup_key, "resolved")

    def acknowledge_by_human(self, dedup_key: str) -> None:
        self._set_status(dedup_key, "acknowledged")

    def _set_status(self, dedup_key: str, status: AlertStatus) -> None:
        alerts = [a for a in self.open_alerts() if a.dedup_key == dedup_key]
        if not alerts:
            raise KeyError(f"no open alert with dedup_key {dedup_key!r}")
        for alert in alerts:
            alert.status = status

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                try:
                    what = inspect.getsource(predicate).strip()
                except (OSError, TypeError):
                    what = repr(predicate)
                raise AssertionError(
                    f"FakePagerDuty.wait_for timed out after {timeout}s: {what}\n"
                    f"{len(self.requests)} requests; statuses "
                    f"{[r.status for r in self.requests[-10:]]}"
                )
            await asyncio.sleep(0.01)

    # -- fault injection (queued; one per request) -----------------------------------------

    def rate_limit_next(self, times: int = 1, retry_after: int | None = None) -> None:
        """Answer 429 (with ``Retry-After: <retry_after>`` when given); nothing is ingested."""
        self._queue("ratelimit", times, None if retry_after is None else float(retry_after))

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Answer ``status`` (a 5xx) without ingesting the event."""
        self._queue("fail", times, float(status))

    def accept_then_reset_next(self, times: int = 1) -> None:
        """Process the event, then drop the connection without any HTTP answer."""
        self._queue("reset", times)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before handling the request (which then goes on normally)."""
        self._queue("slow", times, seconds)

    def _queue(self, kind: _FaultKind, times: int, value: float | None = None) -> None:
        self._faults.extend(_Fault(kind, value) for _ in range(times))

    # -- HTTP ------------------------------------------------------------------------------

    async def _enqueue(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, ENQUEUE, self._apply_event)

    async def _change(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, CHANGE, self._apply_change)

    async def _handle(
        self,
        request: web.Request,
        path: str,
        apply: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> web.StreamResponse:
        at = time.monotonic()
        raw = await request.read()
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.value or 0.0)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        headers: dict[str, str] = {}
        answer: dict[str, Any]
        if fault is not None and fault.kind == "ratelimit":
            status, answer = 429, {"status": "throttle event", "message": "Too many requests"}
            if fault.value is not None:
                headers["Retry-After"] = str(int(fault.value))
        elif fault is not None and fault.kind == "fail":
            status = int(fault.value or 500)
            answer = {"status": "error", "message": "Internal server error"}
        else:
            try:
                event = self._validate(path, raw, body)
                status, answer = 202, apply(event)
            except _Invalid as e:
                status, answer = 400, e.body
        if fault is not None and fault.kind == "reset":
            self.requests.append(PagerDutyRequest(path, body, 0, at))
            if request.transport is not None:
                request.transport.close()  # processed, but no HTTP answer at all
            return web.Response(status=status)
        self.requests.append(PagerDutyRequest(path, body, status, at))
        return web.json_response(answer, status=status, headers=headers)

    # -- validation ------------------------------------------------------------------------

    def _validate(self, path: str, raw: bytes, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Invalid(
                "Unrecognized object", "Event object format is unrecognized", ["JSON parse error"]
            )
        errors = _rules(path, body)
        if len(raw) > MAX_BODY:
            errors.append(f"Event object is too large: {len(raw)} bytes (limit {MAX_BODY})")
        if self._schemas is not None:
            errors.extend(_schema_errors(self._schemas[path], body))
        if errors:
            raise _Invalid("invalid event", "Event object is invalid", errors)
        return body

    # -- PagerDuty's semantics -------------------------------------------------------------

    def _apply_event(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        action, routing_key = event["event_action"], event["routing_key"]
        key = event.get("dedup_key") or uuid.uuid4().hex
        current = next(
            (
                a
                for a in reversed(self.alerts)
                if a.open and a.dedup_key == key and a.routing_key == routing_key
            ),
            None,
        )
        if action == "trigger":
            if current is None:  # no open alert: a new one (also after a resolve)
                current = FakeAlert(key, "triggered", routing_key=routing_key)
                self.alerts.append(current)
            current.events.append(event)
        elif current is not None:  # ack/resolve of an unknown or resolved key: dropped
            current.status = "acknowledged" if action == "acknowledge" else "resolved"
            current.events.append(event)
        return {"status": "success", "message": "Event processed", "dedup_key": key}

    def _apply_change(self, event: dict[str, Any]) -> dict[str, Any]:
        self.change_events.append(event)
        return {"status": "success", "message": "Change event processed"}


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def _rules(path: str, body: Mapping[str, Any]) -> list[str]:
    """The documented rules (and the bare structure the fake needs), without the spec.
    Messages never repeat the routing key."""
    errors: list[str] = []
    key = body.get("routing_key")
    if _blank(key):
        errors.append("'routing_key' is missing or blank")
    elif len(str(key)) != ROUTING_KEY_LENGTH:
        errors.append(f"'routing_key' must be {ROUTING_KEY_LENGTH} characters")
    payload = body.get("payload")
    if path == CHANGE:
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            errors.extend(_summary_errors(payload))
        return errors
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(ACTIONS)}")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif dedup_key is not None and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and _blank(dedup_key):
        errors.append(f"'dedup_key' is required to {action}")
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            errors.extend(_summary_errors(payload))
            if _blank(payload.get("source")):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(f"'payload.severity' must be one of {', '.join(SEVERITIES)}")
    return errors


def _summary_errors(payload: Mapping[str, Any]) -> Iterator[str]:
    summary = payload.get("summary")
    if _blank(summary):
        yield "'payload.summary' is missing or blank"
    elif len(str(summary)) > MAX_SUMMARY:
        yield f"'payload.summary' is longer than {MAX_SUMMARY} characters"


# -- the OpenAPI request schemas (jsonschema, imported only here) --------------------------


def _load_validators(spec: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A jsonschema validator per route, for the request body schema in the spec."""
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    if not isinstance(spec, Mapping):
        spec = json.loads(Path(spec).read_text(encoding="utf-8"))
    assert isinstance(spec, Mapping)
    base = "urn:pagerduty-events-v2"
    registry: Registry[Any] = Registry().with_resource(
        base, Resource.from_contents(dict(spec), default_specification=DRAFT4)
    )
    prefix = urlparse(str((spec.get("servers") or [{}])[0].get("url", "/v2"))).path.rstrip("/")
    validators: dict[str, Any] = {}
    for route, ops in spec["paths"].items():
        if prefix + route in (ENQUEUE, CHANGE) and "post" in ops:
            escaped = route.replace("~", "~0").replace("/", "~1")
            pointer = f"#/paths/{escaped}/post/requestBody/content/application~1json/schema"
            validators[prefix + route] = Draft4Validator(
                {"$ref": base + pointer}, registry=registry
            )
    missing = {ENQUEUE, CHANGE} - set(validators)
    if missing:
        raise ValueError(f"the spec has no request schema for {sorted(missing)}")
    return validators


def _schema_errors(validator: Any, body: Mapping[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    out: list[str] = []
    for e in errors:
        where = ".".join(map(str, e.absolute_path))
        message = str(e.message)
        if "routing_key" in where:  # never echo the key back
            message = "is invalid"
        out.append(f"schema: {where or 'event'}: {message}")
    return out
