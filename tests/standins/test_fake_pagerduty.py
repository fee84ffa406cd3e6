"""The fake PagerDuty Events API over real HTTP: validation against the saved OpenAPI spec,
PagerDuty's dedup semantics, faults, and a contract test of every recorded request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from standins.pagerduty import FakePagerDuty, PagerDutyRequest
from tests.specs import SPECS, load_spec
from tests.waiting import eventually

SPEC_NAME = "pagerduty_events_v2_openapiv3.json"
KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, like an integration key


def trigger(dedup_key: str | None = "herald:rel:r1", **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": KEY,
        "event_action": "trigger",
        "payload": {
            "summary": "webapp 1.2.3 failed its checks",
            "source": "herald/webapp/prod",
            "severity": "critical",
            **payload,
        },
    }
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return body


def follow_up(action: str, dedup_key: str = "herald:rel:r1") -> dict[str, Any]:
    return {"routing_key": KEY, "event_action": action, "dedup_key": dedup_key}


def change(summary: str = "Deployed webapp 1.2.3 to prod") -> dict[str, Any]:
    return {
        "routing_key": KEY,
        "payload": {"summary": summary, "source": "herald", "custom_details": {"rev": "abc"}},
        "links": [{"href": "https://herald.example/r/1", "text": "Release"}],
    }


@pytest.fixture
def spec() -> dict[str, Any]:
    return load_spec(SPEC_NAME)


@pytest.fixture
async def pd(spec: dict[str, Any]) -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(spec=spec) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, fake: FakePagerDuty, body: Any, path: str = "/v2/enqueue"
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    async with http.post(fake.url + path, data=data, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None


class Contract:
    """Validates request bodies against the spec's request schemas (OpenAPI 3 → Draft 4)."""

    BASE = "urn:pagerduty-spec"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(self.BASE, resource)

    def schema(self, path: str) -> dict[str, Any]:
        route = path.removeprefix("/v2")
        schema: dict[str, Any] = self.spec["paths"][route]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        return schema

    def check(self, request: PagerDutyRequest) -> None:
        schema = self.schema(request.path)
        route = request.path.removeprefix("/v2").replace("/", "~1")
        ref = f"{self.BASE}#/paths/{route}/post/requestBody/content/application~1json/schema"
        Draft4Validator({"$ref": ref}, registry=self.registry).validate(request.body)
        unknown = set(request.body) - set(schema["properties"])
        assert not unknown, f"{request.path}: fields the spec does not know: {unknown}"
        payload = request.body.get("payload")
        if isinstance(payload, dict):
            ref_name = schema["properties"]["payload"]["$ref"].rsplit("/", 1)[1]
            known = set(self.spec["components"]["schemas"][ref_name]["properties"])
            assert set(payload) <= known, f"unknown payload fields {set(payload) - known}"


# -- accepted events ---------------------------------------------------------------------


async def test_accepts_a_trigger_and_opens_an_alert(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, pd, trigger(component="web", group="prod"))
    assert status == 202
    assert answer == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "herald:rel:r1",
    }
    [alert] = pd.open_alerts()
    assert (alert.dedup_key, alert.status, alert.routing_key) == ("herald:rel:r1", "triggered", KEY)
    assert alert.events == pd.events == [trigger(component="web", group="prod")]


async def test_accepts_resolve_and_acknowledge(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    await post(http, pd, trigger())
    assert await post(http, pd, follow_up("acknowledge")) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "herald:rel:r1"},
    )
    assert [a.status for a in pd.alerts] == ["acknowledged"]
    assert (await post(http, pd, follow_up("resolve")))[0] == 202
    assert [a.status for a in pd.alerts] == ["resolved"]
    assert pd.open_alerts() == []
    assert [e["event_action"] for e in pd.alerts[0].events] == ["trigger", "acknowledge", "resolve"]


async def test_accepts_a_change_event(pd: FakePagerDuty, http: aiohttp.ClientSession) -> None:
    status, answer = await post(http, pd, change(), "/v2/change/enqueue")
    assert status == 202
    assert answer["status"] == "success"
    assert pd.change_events == [change()]
    assert pd.alerts == [] and pd.events == []  # change events never page


async def test_trigger_without_dedup_key_gets_a_generated_one(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    _, first = await post(http, pd, trigger(None))
    _, second = await post(http, pd, trigger(None))
    assert first["dedup_key"] != second["dedup_key"]
    assert len(pd.open_alerts()) == 2


# -- rejected events ---------------------------------------------------------------------


def without_summary() -> dict[str, Any]:
    body = trigger()
    del body["payload"]["summary"]
    return body


def without_routing_key() -> dict[str, Any]:
    body = trigger()
    del body["routing_key"]
    return body


INVALID = {
    "missing summary": (without_summary(), "summary"),
    "bad severity": (trigger(severity="fatal"), "severity"),
    "long dedup_key": (trigger("k" * 256), "dedup_key"),
    "wrong event_action": ({**trigger(), "event_action": "open"}, "event_action"),
    "missing routing_key": (without_routing_key(), "routing_key"),
    "short routing_key": ({**trigger(), "routing_key": "abc"}, "routing_key"),
    "long summary": (trigger(summary="s" * 1025), "summary"),
    "trigger without payload": ({k: v for k, v in trigger().items() if k != "payload"}, "payload"),
    "resolve without dedup_key": ({"routing_key": KEY, "event_action": "resolve"}, "dedup_key"),
    "acknowledge with blank key": (follow_up("acknowledge", ""), "dedup_key"),
    "too large": (trigger(custom_details={"blob": "x" * (512 * 1024)}), "too large"),
}


@pytest.mark.parametrize(("body", "mentions"), INVALID.values(), ids=INVALID.keys())
async def test_rejects_invalid_events_like_pagerduty(
    pd: FakePagerDuty, http: aiohttp.ClientSession, body: dict[str, Any], mentions: str
) -> None:
    status, answer = await post(http, pd, body)
    assert status == 400
    assert answer["status"] == "invalid event"
    assert answer["message"] == "Event object is invalid"
    assert any(mentions in e for e in answer["errors"]), answer["errors"]
    assert KEY not in json.dumps(answer)  # errors never echo the routing key
    assert pd.events == [] and pd.alerts == []


async def test_rejects_invalid_change_events(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    assert (await post(http, pd, change(""), "/v2/change/enqueue"))[0] == 400
    assert (await post(http, pd, change("s" * 1025), "/v2/change/enqueue"))[0] == 400
    no_payload = {"routing_key": KEY}
    assert (await post(http, pd, no_payload, "/v2/change/enqueue"))[0] == 400
    assert pd.change_events == []


async def test_rejects_what_is_not_json(pd: FakePagerDuty, http: aiohttp.ClientSession) -> None:
    status, answer = await post(http, pd, b"{not json")
    assert status == 400
    assert answer == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }


async def test_schema_errors_come_from_the_spec(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    """A rule only the spec carries: `custom_details` must be an object."""
    status, answer = await post(http, pd, trigger(custom_details="not an object"))
    assert status == 400
    assert any(e.startswith("schema: payload.custom_details") for e in answer["errors"])


async def test_without_a_spec_only_the_documented_rules_apply(
    http: aiohttp.ClientSession,
) -> None:
    async with FakePagerDuty() as fake:
        assert (await post(http, fake, trigger(custom_details="not an object")))[0] == 202
        assert (await post(http, fake, trigger(severity="fatal")))[0] == 400
        assert (await post(http, fake, without_routing_key()))[0] == 400


def test_the_spec_may_be_given_as_a_path(spec: dict[str, Any]) -> None:
    FakePagerDuty(spec=SPECS / SPEC_NAME)
    FakePagerDuty(spec=str(SPECS / SPEC_NAME))


def test_a_spec_without_the_endpoints_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"openapi": "3.0.2", "paths": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="no request schema"):
        FakePagerDuty(spec=path)


# -- dedup semantics ---------------------------------------------------------------------


async def test_trigger_on_an_open_key_adds_to_the_alert(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    await post(http, pd, trigger())
    await post(http, pd, follow_up("acknowledge"))
    await post(http, pd, trigger(summary="still failing"))
    [alert] = pd.alerts
    assert alert.status == "acknowledged"  # a trigger does not un-acknowledge
    assert len(alert.events) == 3


async def test_trigger_after_resolve_opens_a_new_alert(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    await post(http, pd, trigger())
    pd.resolve_by_human("herald:rel:r1")
    await post(http, pd, trigger())
    assert [a.status for a in pd.alerts_for("herald:rel:r1")] == ["resolved", "triggered"]
    assert len(pd.open_alerts()) == 1


async def test_ack_and_resolve_of_unknown_or_resolved_keys_are_dropped(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    assert (await post(http, pd, follow_up("resolve", "never-seen")))[0] == 202
    assert (await post(http, pd, follow_up("acknowledge", "never-seen")))[0] == 202
    assert pd.alerts == []  # ack/resolve never create alerts
    await post(http, pd, trigger())
    await post(http, pd, follow_up("resolve"))
    assert (await post(http, pd, follow_up("acknowledge")))[0] == 202
    [alert] = pd.alerts
    assert alert.status == "resolved" and len(alert.events) == 2
    assert len(pd.events) == 5  # all accepted, recorded as received


async def test_keys_are_scoped_to_the_routing_key(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    await post(http, pd, trigger())
    await post(http, pd, {**trigger(), "routing_key": "f" * 32})
    assert len(pd.open_alerts()) == 2
    await post(http, pd, follow_up("resolve"))
    assert [a.routing_key for a in pd.open_alerts()] == ["f" * 32]


def test_a_human_can_only_resolve_an_open_alert(pd: FakePagerDuty) -> None:
    with pytest.raises(KeyError):
        pd.resolve_by_human("nothing-open")
    with pytest.raises(KeyError):
        pd.acknowledge_by_human("nothing-open")


# -- faults ------------------------------------------------------------------------------


async def test_faults_apply_in_order_one_per_request(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    pd.rate_limit_next(retry_after=30)
    pd.rate_limit_next()
    pd.fail_next(status=503)
    async with http.post(pd.url + "/v2/enqueue", json=trigger()) as resp:
        assert (resp.status, resp.headers.get("Retry-After")) == (429, "30")
    async with http.post(pd.url + "/v2/enqueue", json=trigger()) as resp:
        assert (resp.status, resp.headers.get("Retry-After")) == (429, None)
    assert (await post(http, pd, trigger()))[0] == 503
    assert pd.events == [] and pd.alerts == []  # none of those was ingested
    assert (await post(http, pd, trigger()))[0] == 202
    assert [r.status for r in pd.requests] == [429, 429, 503, 202]


async def test_accept_then_reset_processes_the_event_without_answering(
    pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    pd.accept_then_reset_next()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, pd, trigger())
    assert len(pd.open_alerts()) == 1
    assert pd.requests[-1].status == 0
    assert (await post(http, pd, trigger()))[0] == 202  # a retry adds to the same alert
    assert len(pd.alerts) == 1 and len(pd.alerts[0].events) == 2


async def test_slow_next_delays_the_answer(pd: FakePagerDuty, http: aiohttp.ClientSession) -> None:
    pd.slow_next(0.3)
    timeout = aiohttp.ClientTimeout(total=0.05)
    with pytest.raises(TimeoutError):
        async with http.post(pd.url + "/v2/enqueue", json=trigger(), timeout=timeout):
            pass
    await eventually(lambda: len(pd.events) == 1)  # processed after all, unanswered
    assert len(pd.open_alerts()) == 1


# -- contract ----------------------------------------------------------------------------


async def test_every_recorded_request_validates_against_the_spec(
    spec: dict[str, Any], pd: FakePagerDuty, http: aiohttp.ClientSession
) -> None:
    await post(http, pd, trigger(component="web", group="prod", custom_details={"a": 1}))
    await post(http, pd, {**trigger(), "client": "Herald", "client_url": "https://h.example"})
    await post(http, pd, follow_up("acknowledge"))
    await post(http, pd, follow_up("resolve"))
    await post(http, pd, change(), "/v2/change/enqueue")
    contract = Contract(spec)
    assert len(pd.requests) == 5
    for request in pd.requests:
        assert request.status == 202
        contract.check(request)


def test_the_contract_catches_bad_bodies(spec: dict[str, Any]) -> None:
    from jsonschema import ValidationError

    contract = Contract(spec)
    bad = PagerDutyRequest("/v2/enqueue", {**trigger(), "event_action": "open"}, 400, 0.0)
    with pytest.raises(ValidationError):
        contract.check(bad)
    typo = PagerDutyRequest("/v2/enqueue", {**trigger(), "dedupkey": "x"}, 202, 0.0)
    with pytest.raises(AssertionError, match="does not know"):
        contract.check(typo)
