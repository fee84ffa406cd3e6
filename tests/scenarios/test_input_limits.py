"""Issue 10's crash classes, one test each on every kind of route: each used to be a 500.

Herald answers 422 naming the field, and keeps nothing of the refused request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bot.examples import example_manifest
from tests.conftest import INGEST_TOKEN, Herald, SettingsFactory, start_herald
from tests.scenarios.test_hooks import CATALOG, RID, argocd, firing_alert, rollout, webhook

EDGE_OF_CALENDAR = "9999-12-31T23:59:59-05:00"
LONE_SURROGATE = "\ud83d"  # half of 😀: json.dumps sends it as the escape "\ud83d"
HUGE = "1" * 5001
ROUTES = {
    "manifest": "/api/v1/releases",
    "argocd": "/hooks/argocd",
    "rollouts": "/hooks/rollouts",
    "alertmanager": "/hooks/alertmanager",
}


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    """Herald with the hooks' catalogue: webapp's Argo CD app and Rollout are known."""
    runner = await start_herald(make_settings(), catalog=CATALOG)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


def body_for(route: str) -> dict[str, Any]:
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "manifest": example_manifest,
        "argocd": lambda: argocd("on-deployed"),
        "rollouts": lambda: rollout("on-rollout-completed"),
        "alertmanager": lambda: webhook([firing_alert()]),
    }
    return bodies[route]()


async def send_raw(herald: Herald, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    json_type = {"Content-Type": "application/json"}
    return await herald.call("POST", path, data=raw, headers=json_type)


def nested(depth: int, leaf: str = "1") -> bytes:
    return ('{"n": ' * depth + leaf + "}" * depth).encode()


def splice(body: dict[str, Any], field: str, raw: bytes) -> bytes:
    """`body` as JSON with `field` set to `raw`, JSON no encoder would write."""
    text = json.dumps({**body, field: "@@"}).encode()
    return text.replace(b'"@@"', raw)


async def nothing_stored(herald: Herald) -> bool:
    status, body = await herald.call("GET", "/api/v1/releases")
    return status == 200 and body["releases"] == []


# -- JSON nested 1,000 deep (RecursionError) -------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_a_body_nested_a_thousand_deep_is_422_naming_where(
    herald: Herald, route: str
) -> None:
    status, answer = await send_raw(
        herald, ROUTES[route], splice(body_for(route), "extra", nested(1000))
    )
    assert status == 422, answer
    assert answer["details"] == [
        {"path": "extra" + ".n" * 31, "message": "nested deeper than 32 levels"}
    ]
    assert await nothing_stored(herald)


# -- a 5,001-digit integer (ValueError) --------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_a_five_thousand_digit_integer_is_422_naming_the_field(
    herald: Herald, route: str
) -> None:
    status, answer = await send_raw(
        herald, ROUTES[route], splice(body_for(route), "n", HUGE.encode())
    )
    assert status == 422, answer
    assert answer["details"] == [{"path": "n", "message": "number longer than 40 characters"}]


async def test_a_five_thousand_digit_event_field_is_422(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    raw = splice({"event": "release.started"}, "lead_time_seconds", HUGE.encode())
    status, answer = await send_raw(herald, f"/api/v1/releases/{RID}/events", raw)
    assert status == 422, answer
    assert answer["details"][0]["path"] == "lead_time_seconds"


# -- a time at the edge of the calendar (OverflowError in SQLAlchemy) --------------------


async def test_a_manifest_created_at_the_end_of_the_calendar_is_422(herald: Herald) -> None:
    status, answer = await herald.post_manifest(
        {**example_manifest(), "created_at": EDGE_OF_CALENDAR}
    )
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["created_at"]
    assert await nothing_stored(herald)


async def test_an_event_at_the_end_of_the_calendar_is_422(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    status, answer = await herald.post_event(RID, event="release.started", at=EDGE_OF_CALENDAR)
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["at"]
    status, release = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert release["release"]["state"] == "release.planned"


async def test_an_argo_cd_sync_at_the_end_of_the_calendar_is_422(herald: Herald) -> None:
    body = argocd("on-deployed", started_at=EDGE_OF_CALENDAR, finished_at="0001-01-01T00:00:00Z")
    status, answer = await herald.call("POST", "/hooks/argocd", json=body)
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["started_at", "finished_at"]
    assert await nothing_stored(herald)


async def test_an_alert_starting_at_the_end_of_the_calendar_is_422(herald: Herald) -> None:
    alert = {**firing_alert(), "startsAt": EDGE_OF_CALENDAR, "endsAt": EDGE_OF_CALENDAR}
    status, answer = await herald.call("POST", "/hooks/alertmanager", json=webhook([alert]))
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["alerts[0].startsAt", "alerts[0].endsAt"]


async def test_alertmanagers_zero_time_still_means_not_ended(herald: Herald) -> None:
    status, answer = await herald.call(
        "POST", "/hooks/alertmanager", json=webhook([firing_alert()])
    )
    assert status == 200, answer


# -- an unknown manifest field nested 500 deep (serialization depth) ---------------------


async def test_an_unknown_manifest_field_nested_500_deep_is_422(herald: Herald) -> None:
    raw = splice(example_manifest(), "build", nested(500))
    status, answer = await send_raw(herald, "/api/v1/releases", raw)
    assert status == 422, answer
    assert answer["details"] == [
        {"path": "build" + ".n" * 31, "message": "nested deeper than 32 levels"}
    ]
    assert await nothing_stored(herald)


async def test_an_unknown_field_nested_within_the_limit_is_kept(herald: Herald) -> None:
    build = json.loads(nested(30))
    status, answer = await herald.post_manifest({**example_manifest(), "build": build})
    assert status == 201, answer
    status, stored = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert stored["release"]["manifest"]["build"] == build


# -- a lone surrogate (UnicodeEncodeError) -----------------------------------------------


@pytest.mark.parametrize(
    ("route", "field", "path"),
    [
        ("manifest", "owner", "owner"),
        ("argocd", "message", "message"),
        ("rollouts", "message", "message"),
        ("alertmanager", "receiver", "receiver"),
    ],
)
async def test_a_lone_surrogate_in_a_field_is_422_naming_it(
    herald: Herald, route: str, field: str, path: str
) -> None:
    body = {**body_for(route), field: f"deploy {LONE_SURROGATE} done"}
    status, answer = await herald.call("POST", ROUTES[route], json=body)
    assert status == 422, answer
    assert answer["details"] == [
        {"path": path, "message": "contains a lone surrogate (not valid Unicode)"}
    ]


async def test_a_lone_surrogate_in_an_alert_label_is_422_naming_it(herald: Herald) -> None:
    alert = firing_alert(summary=LONE_SURROGATE)
    status, answer = await herald.call("POST", "/hooks/alertmanager", json=webhook([alert]))
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["alerts[0].labels.summary"]


async def test_a_lone_surrogate_in_a_field_name_is_422(herald: Herald) -> None:
    body = {**argocd("on-deployed"), f"x{LONE_SURROGATE}": 1}
    status, answer = await herald.call("POST", "/hooks/argocd", json=body)
    assert status == 422, answer
    assert answer["details"] == [{"path": "x\\ud83d", "message": "field name is not valid Unicode"}]


async def test_an_event_with_a_lone_surrogate_is_422(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    status, answer = await herald.post_event(RID, event="release.failed", symptom=LONE_SURROGATE)
    assert status == 422, answer
    assert [d["path"] for d in answer["details"]] == ["symptom"]


# -- credentials: every one presented must be right --------------------------------------


@pytest.mark.parametrize("route", ["argocd", "rollouts", "alertmanager"])
async def test_a_right_herald_token_beside_a_wrong_bearer_is_401(
    herald: Herald, route: str
) -> None:
    headers = {"X-Herald-Token": INGEST_TOKEN}
    status, answer = await herald.call(
        "POST", ROUTES[route], json=body_for(route), token="wrong", headers=headers
    )
    assert (status, answer["error"]) == (401, "invalid bearer token")
    assert await nothing_stored(herald)


async def test_a_right_bearer_beside_a_wrong_herald_token_is_401(herald: Herald) -> None:
    headers = {"X-Herald-Token": "wrong"}
    status, answer = await herald.call(
        "POST", "/hooks/argocd", json=argocd("on-deployed"), headers=headers
    )
    assert (status, answer["error"]) == (401, "invalid X-Herald-Token")


async def test_both_tokens_right_are_accepted(herald: Herald) -> None:
    headers = {"X-Herald-Token": INGEST_TOKEN}
    status, _ = await herald.call(
        "POST", "/hooks/argocd", json=argocd("on-deployed"), headers=headers
    )
    assert status == 200


@pytest.mark.parametrize("header", [b"X-Herald-Token: t\xffk", b"Authorization: Bearer t\xffk"])
async def test_a_token_that_is_not_valid_utf8_is_401(herald: Herald, header: bytes) -> None:
    """Bytes no HTTP client library would send; Herald compares them, refuses, and stays up."""
    host, port = herald.runner.addresses[0][:2]
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /hooks/argocd HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        + header
        + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401 ")


# -- the description of it all ------------------------------------------------------------


async def test_the_openapi_description_names_every_route_and_the_error_shape(
    herald: Herald,
) -> None:
    status, document = await herald.call("GET", "/api/v1/openapi.json", token=None)
    assert status == 200
    served = {
        (route.method.lower(), resource.canonical)
        for resource in herald.runner.app.router.resources()
        for route in resource
        if route.method != "HEAD"
    }
    described = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert described == served
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "details"]
    manifest = document["paths"]["/api/v1/releases"]["post"]["requestBody"]
    assert manifest["content"]["application/json"]["schema"]["$ref"].endswith("/Manifest")


@pytest.mark.parametrize("route", ["/api/v1/releases", "/api/v1/outbox/dead"])
@pytest.mark.parametrize("limit", ["²", "0", "501", "1e3", "-1"])
async def test_a_listing_limit_that_is_not_a_plain_whole_number_is_refused_by_name(
    herald: Herald, route: str, limit: str
) -> None:
    status, body = await herald.call("GET", f"{route}?limit={quote(limit)}")
    assert status == 422
    assert [d["path"] for d in body["details"]] == ["limit"]
