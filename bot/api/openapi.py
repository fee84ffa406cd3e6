"""`GET /api/v1/openapi.json`: Herald's own API, described from the models its handlers parse.

Request bodies are the pydantic models' JSON Schema (`Manifest`, `EventRequest`, the webhook
payloads), so the description cannot drift from what is accepted; the routes, their query
parameters and answers are the table below. Only routes the running app has are described
(`/slack/events` is absent in Socket Mode; it is Slack's signed protocol, described only as
far as its refusals). No token is needed to read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot.api.answers import ANSWER_SCHEMAS as _ANSWER_SCHEMAS
from bot.api.hooks.alertmanager import AlertmanagerWebhook
from bot.api.hooks.argo import ArgoCDNotification, RolloutNotification
from bot.api.limits import MAX_DEPTH, MAX_NUMBER_CHARS
from bot.domain.rehearsal.model import RehearsalRequest
from bot.domain.release.events import EventRequest
from bot.domain.release.manifest import Manifest

__all__ = ["PATH", "add_routes", "describe"]

PATH = "/api/v1/openapi.json"
_REF = "#/components/schemas/{model}"
Security = list[dict[str, list[str]]]
_BEARER: Security = [{"bearer": []}]
_HOOK_AUTH: Security = [{"bearer": []}, {"heraldToken": []}]
_NAME = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]{0,62}$"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    media: str = "application/json"
    form: bool = False  # a form body of its own protocol (Slack's), not a Herald model
    shape: str | None = None  # the component schema of its answers below 400, if documented


_CALENDAR_QUERY: dict[str, dict[str, Any]] = {
    "service": _NAME,
    "weeks": {"type": "integer", "minimum": 1, "maximum": 26, "default": 6},
}
_POSTED = {"200": "a repeat, acknowledged", "201": "recorded", "409": "contradicts the record"}
_HOOK = {"200": "taken in, ignored (`ignored`) or a duplicate (`duplicate`)"}
ROUTES = (
    Route("post", "/api/v1/releases", "Register a release manifest", Manifest, answers=_POSTED),
    Route(
        "get",
        "/api/v1/releases",
        "Releases, newest first",
        query={
            "service": _NAME,
            "env": _NAME,
            "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        },
        answers={"200": "`{releases: [...]}`"},
    ),
    Route(
        "get",
        "/api/v1/releases/{release_id}",
        "One release with its events and messages",
        answers={"200": "the release", "404": "no such release"},
    ),
    Route(
        "get",
        "/api/v1/releases/{release_id}/gate",
        "Go or no-go for the release now, with every reason (CI's gate)",
        answers={"200": "the decision and its reasons", "404": "no such release"},
        shape="Gate",
    ),
    Route(
        "post",
        "/api/v1/releases/{release_id}/rehearsals",
        "Report a rollback of the release's version rehearsed in another env",
        RehearsalRequest,
        answers={"201": "recorded", "404": "no such release"},
    ),
    Route(
        "post",
        "/api/v1/releases/{release_id}/events",
        "Record a lifecycle event",
        EventRequest,
        answers={**_POSTED, "404": "no such release"},
    ),
    Route(
        "get",
        "/api/v1/dora",
        "DORA figures for a window ending now",
        query={"service": _NAME, "env": _NAME, "window": {"type": "string", "default": "30d"}},
        answers={"200": "every figure, its count and trend"},
    ),
    Route(
        "get",
        "/api/v1/calendar",
        "The release calendar: planned releases, freezes, past releases and their outcomes",
        query=_CALENDAR_QUERY,
        answers={"200": "`{start, end, entries: [{kind, title, start, end?, ...}]}`"},
    ),
    Route(
        "get",
        "/api/v1/calendar.ics",
        "The release calendar as an iCalendar feed to subscribe to (HERALD_CALENDAR_TOKEN)",
        query=_CALENDAR_QUERY,
        answers={"200": "RFC 5545 iCalendar", "404": "the feed is off (no HERALD_CALENDAR_TOKEN)"},
        media="text/calendar",
    ),
    Route(
        "get",
        "/api/v1/outbox/dead",
        "Dead letters (messages and pages Herald gave up delivering), newest first",
        query={
            "release": {"type": "string", "maxLength": 200},
            "sink": {"type": "string", "enum": ["slack", "pagerduty"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        },
        answers={"200": "`{dead_letters: [...]}`"},
    ),
    Route("post", "/hooks/argocd", "Argo CD notification", ArgoCDNotification, answers=_HOOK),
    Route(
        "post", "/hooks/rollouts", "Argo Rollouts notification", RolloutNotification, answers=_HOOK
    ),
    Route(
        "post", "/hooks/alertmanager", "Alertmanager webhook v4", AlertmanagerWebhook, answers=_HOOK
    ),
    Route(
        "get", "/metrics", "Prometheus metrics", answers={"200": "text format"}, media="text/plain"
    ),
    Route(
        "get",
        "/healthz",
        "Alive, and Herald's version",
        answers={"200": "alive"},
        shape="Health",
    ),
    Route(
        "get",
        "/readyz",
        "Ready: the store answers (and with --workers, a worker process is up)",
        answers={"200": "ready", "503": "no store, or no worker process up"},
    ),
    Route("get", PATH, "This description", answers={"200": "OpenAPI 3.1"}),
    Route(
        "post",
        "/slack/events",
        "Slack's Request URL (HTTP mode): signed by Slack, see Slack's documentation",
        answers={"200": "Slack's answer", "401": "not signed by Slack"},
        form=True,
    ),
)
_CALENDAR_TOKEN: Security = [{"calendarToken": []}]
_SECURED: dict[str, Security] = {
    "/api/v1/calendar.ics": _CALENDAR_TOKEN,
    "/api/v1/calendar": _BEARER,
    "/api/v1/releases": _BEARER,
    "/api/v1/dora": _BEARER,
    "/api/v1/outbox": _BEARER,
    "/hooks/": _HOOK_AUTH,
}


def add_routes(app: web.Application) -> None:
    """Register `GET /api/v1/openapi.json`."""
    app.router.add_get(PATH, get_openapi)


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(describe(_registered(request.app)))


def _registered(app: web.Application) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for resource in app.router.resources():
        for route in resource:
            out.add((route.method.lower(), resource.canonical))
    return frozenset(out)


@cache
def describe(registered: frozenset[tuple[str, str]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the routes in `registered` (method, path) Herald knows."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (r.body, "validation") for r in ROUTES if r.body is not None
    ]
    _, defs = models_json_schema(models, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if (route.method, route.path) in registered:
            paths.setdefault(route.path, {})[route.method] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Herald", "version": "1", "description": _LIMITS},
        "paths": paths,
        "components": {
            "schemas": {**defs.get("$defs", {}), **_ERROR_SCHEMAS, **_ANSWER_SCHEMAS},
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{route.method}_{route.path.strip('/').replace('/', '_')}",
        "summary": route.summary,
        "responses": _responses(route),
        "security": _security(route),
    }
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in route.query.items()
    ]
    if "{release_id}" in route.path:
        parameters.append(
            {"name": "release_id", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        schema = {"$ref": _REF.format(model=route.body.__name__)}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    if route.form:
        form = {"type": "object", "additionalProperties": {"type": "string"}}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": form}},
        }
    return operation


def _security(route: Route) -> Security:
    for prefix, security in _SECURED.items():
        if route.path.startswith(prefix) and route.path != PATH:
            return security
    return []


def _responses(route: Route) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if route.media in ("text/plain", "text/calendar"):
        schema = {"type": "string"}
    elif route.shape is not None:
        schema = {"$ref": _REF.format(model=route.shape)}
    out: dict[str, Any] = {
        code: {"description": text, "content": {route.media: {"schema": schema}}}
        for code, text in route.answers.items()
        if not code.startswith(("4", "5"))
    }
    refusals = {code: text for code, text in route.answers.items() if code.startswith(("4", "5"))}
    if _security(route):
        refusals["401"] = "missing or wrong token; every token sent must be right"
    if route.body is not None:
        refusals |= {
            "400": "not JSON",
            "413": "body over 1 MiB",
            "415": "not application/json",
            "422": "a field violates the schema or a limit; `details` names each",
        }
    if route.body is not None or route.query or "{release_id}" in route.path:
        refusals.setdefault("422", "a parameter is out of range; `details` names it")
    if route.body is not None and route.path.startswith("/api/"):
        refusals["503"] = "changed concurrently; send it again (`Retry-After`)"
    refusal = {"$ref": _REF.format(model="SlackRefusal")} if route.form else _ERROR_REF
    for code, text in sorted(refusals.items()):
        out[code] = {"description": text, "content": {"application/json": {"schema": refusal}}}
    return out


_ERROR_REF = {"$ref": _REF.format(model="Error")}
_ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every refusal and failure Herald answers, whatever the route.",
        "required": ["error", "details"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "what is wrong, safe to show"},
            "details": {"type": "array", "items": {"$ref": _REF.format(model="FieldProblem")}},
            "correlation_id": {"type": "string", "description": "as `X-Request-Id`"},
        },
    },
    "SlackRefusal": {
        "type": "object",
        "description": "A refusal on Slack's Request URL: Bolt's `{error}` or Herald's `Error`.",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "FieldProblem": {
        "type": "object",
        "required": ["path", "message"],
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "description": "JSON path, e.g. `git.commit`"},
            "message": {"type": "string"},
        },
    },
}
_SECURITY_SCHEMES = {
    "calendarToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "HERALD_CALENDAR_TOKEN: read-only, for the iCalendar feed alone",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "HERALD_INGEST_TOKEN"},
    "heraldToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Herald-Token",
        "description": "HERALD_INGEST_TOKEN on /hooks; sent with a bearer, both must be right",
    },
}
_LIMITS = (
    "Every JSON body is held to limits before its schema: at most 1 MiB, nested at most "
    f"{MAX_DEPTH} levels, numbers of at most {MAX_NUMBER_CHARS} characters and finite, "
    "no lone surrogates in strings or field names, times from 1970 up to 2100 (UTC). "
    "A body outside them is answered 413 (size) or 422 with `details` naming each field."
)
