"""An Events API delivery, shaped as Slack's published event wrapper, is keyed by its event_id."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import validators  # type: ignore[import-untyped]

from bot.slack.inbox import inbox_key, kept_request
from tests.specs import load_spec

ENVELOPE = {
    "token": "XXYYZZ",
    "team_id": "T1H9RESGL",
    "api_app_id": "A2H9RFS1A",
    "event": {
        "type": "message",
        "user": "U061F7AUR",
        "text": "How many cats did we herd yesterday?",
        "ts": "1525215129.000001",
        "channel": "D0PNCRP9N",
        "event_ts": "1525215129.000001",
    },
    "type": "event_callback",
    "event_id": "Ev0PV52K25",
    "event_time": 1525215129,
    "authed_users": ["U061F7AUR"],
}


@pytest.fixture(scope="module")
def wrapper() -> dict[str, Any]:
    return load_spec("slack_events_common_event_wrapper_schema.json")


def test_the_envelope_is_valid_under_slacks_wrapper_schema(wrapper: dict[str, Any]) -> None:
    cls = validators.validator_for(wrapper)
    cls.check_schema(wrapper)
    assert [error.message for error in cls(wrapper).iter_errors(ENVELOPE)] == []


def test_the_inbox_keys_an_event_by_a_field_slack_always_sends(wrapper: dict[str, Any]) -> None:
    assert "event_id" in wrapper["required"]
    assert inbox_key(ENVELOPE) == "slack:event:Ev0PV52K25"


def test_an_event_owes_no_work_after_its_ack() -> None:
    assert kept_request(ENVELOPE) is None
