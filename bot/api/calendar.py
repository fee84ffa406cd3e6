"""The release calendar over HTTP: `GET /api/v1/calendar` (JSON, the ingest token) and
`GET /api/v1/calendar.ics` (an iCalendar feed people subscribe to from their calendar app,
with the read-only HERALD_CALENDAR_TOKEN in the URL's `token`). iCalendar is written by the
`icalendar` library (RFC 5545), not by hand."""

from __future__ import annotations

import hmac

from aiohttp import web
from icalendar import Calendar, Event

from bot.api.http import parse_count, parse_name, require_bearer
from bot.deps import DEPS, Deps
from bot.domain.calendar.entries import MAX_WEEKS, Entry, Window
from bot.errors import NotFound, Unauthorized
from bot.store.calendar import calendar_entries

DEFAULT_WEEKS = 6


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/calendar", get_calendar)
    app.router.add_get("/api/v1/calendar.ics", get_calendar_ics)


async def get_calendar(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    token = deps.settings.ingest_token
    require_bearer(request, token.get_secret_value() if token else None)
    window, entries = await _entries(request, deps)
    return web.json_response(
        {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "entries": [entry.as_json() for entry in entries],
        }
    )


async def get_calendar_ics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    expected = deps.settings.calendar_token
    if expected is None:
        raise NotFound("the calendar feed is off; set HERALD_CALENDAR_TOKEN to turn it on")
    supplied = request.query.get("token", "")
    # a query that is not valid Unicode is compared as its bytes, never a 500
    given = supplied.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise Unauthorized("missing or wrong calendar token (?token=HERALD_CALENDAR_TOKEN)")
    _, entries = await _entries(request, deps)
    body = render_ics(entries, stamp=deps.clock())
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")


def render_ics(entries: list[Entry], *, stamp: object) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Herald//release calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Releases")
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.uid}@herald")
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.start)
        if entry.end is not None:
            event.add("dtend", entry.end)
        event.add("summary", entry.title)
        event.add("categories", [entry.kind.value])
        if entry.release_id:
            event.add("description", f"Release {entry.release_id}")
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


async def _entries(request: web.Request, deps: Deps) -> tuple[Window, list[Entry]]:
    service = parse_name(request.query.get("service"), field="service")
    weeks = parse_count(
        request.query.get("weeks"), field="weeks", most=MAX_WEEKS, default=DEFAULT_WEEKS
    )
    now = deps.clock()
    window = Window.rolling(now, weeks=weeks)
    freezes = await deps.freezes.calendar(now=now)
    entries = await calendar_entries(deps.database, window=window, freezes=freezes, service=service)
    return window, entries
