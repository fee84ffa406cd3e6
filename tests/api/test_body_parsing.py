"""Properties of the edge: any bytes sent as a manifest, an event or a webhook become either
the model, ready to store, or a refusal naming the field; never any other exception (a 500)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bot.api.hooks.alertmanager import AlertmanagerWebhook
from bot.api.hooks.argo import ArgoCDNotification, RolloutNotification
from bot.api.http import parse_model
from bot.api.limits import parse_object
from bot.domain.release.events import EventRequest
from bot.domain.release.manifest import Manifest
from bot.errors import InvalidInput, MalformedRequest
from bot.examples import example_manifest

ODD_TEXT = st.sampled_from(["\ud83d", "a\udc00b", "", " ", "\x00", "é😀", "<!channel>"])
TIMES = st.sampled_from(
    [
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "1969-12-31T23:59:59Z",
        "2025-10-02T20:00:00Z",
        "2099-12-31T23:59:59-05:00",
        "2025-10-02T20:00:00",
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | ODD_TEXT
    | TIMES
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | ODD_TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"n": value}
    return value


NESTED = st.integers(min_value=0, max_value=600).map(deep)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """`base` with one field (known or not, maybe inside `git`) replaced by any JSON value,
    as JSON text; now and then with a number no encoder writes spliced in."""
    body = json.loads(json.dumps(base))
    where = body["git"] if "git" in body and draw(st.booleans()) else body
    key = draw(st.sampled_from([*where, "extra"]))
    where[key] = draw(JSON | NESTED)
    raw = json.dumps(body).encode()
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(b"}", b', "big": ' + b"9" * draw(st.integers(1, 6000)) + b"}", 1)
    return raw


MODELS: tuple[type[BaseModel], ...] = (
    Manifest,
    EventRequest,
    ArgoCDNotification,
    RolloutNotification,
    AlertmanagerWebhook,
)


def parsed_or_refused(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return parse_model(model, parse_object(raw))
    except InvalidInput as refusal:
        assert refusal.details, "a refusal names at least one field"
        for problem in refusal.details:
            assert problem.path and problem.message
            problem.path.encode()  # printable: the answer is UTF-8 JSON
        return refusal
    except MalformedRequest:
        return None


@settings(max_examples=300, deadline=None)
@given(mutated(example_manifest()))
def test_any_manifest_is_parsed_ready_to_store_or_refused_by_field(raw: bytes) -> None:
    outcome = parsed_or_refused(Manifest, raw)
    if isinstance(outcome, Manifest):
        json.dumps(outcome.canonical(), ensure_ascii=False).encode()  # what the store writes
        assert outcome.digest()
        outcome.created_at.astimezone(UTC)
        for change in outcome.changes:
            if change.committed_at:
                change.committed_at.astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(mutated({"event": "release.failed", "at": "2025-10-02T20:00:00Z", "symptom": "5xx"}))
def test_any_event_is_parsed_ready_to_store_or_refused_by_field(raw: bytes) -> None:
    outcome = parsed_or_refused(EventRequest, raw)
    if isinstance(outcome, EventRequest):
        json.dumps(outcome.details(), ensure_ascii=False).encode()
        if outcome.at is not None:
            outcome.at.astimezone(UTC)


@given(JSON | NESTED)
def test_any_json_value_at_all_is_a_model_or_a_refusal(value: Any) -> None:
    raw = json.dumps(value).encode()
    for model in MODELS:
        outcome = parsed_or_refused(model, raw)
        if isinstance(outcome, ArgoCDNotification | RolloutNotification):
            outcome.to_signal()
        elif isinstance(outcome, AlertmanagerWebhook):
            outcome.to_alerts()


@given(st.binary(max_size=200))
def test_any_bytes_are_a_model_or_a_refusal(raw: bytes) -> None:
    for model in MODELS:
        outcome = parsed_or_refused(model, raw)
        if isinstance(outcome, ArgoCDNotification | RolloutNotification):
            outcome.to_signal()
        elif isinstance(outcome, AlertmanagerWebhook):
            outcome.to_alerts()
