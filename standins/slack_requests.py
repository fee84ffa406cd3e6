"""Requests as Slack sends them to an app: signed slash commands and button clicks."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"


def signed_headers(
    body: str, *, secret: str, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


def slash_command(
    text: str,
    *,
    user: str,
    trigger_id: str,
    response_url: str = "https://hooks.slack.invalid/commands/1/2",
    channel: str = "CFEED",
) -> str:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": "T0HERALD",
            "team_domain": "herald-test",
            "channel_id": channel,
            "channel_name": "release-feed",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/deploy",
            "text": text,
            "api_app_id": "A0HERALD",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def block_action(
    *,
    action_id: str,
    value: str,
    user: str,
    trigger_id: str,
    action_ts: str,
    response_url: str,
    channel: str = "CFEED",
    state: dict[str, Any] | None = None,
    element: dict[str, Any] | None = None,
) -> str:
    """A button press; `state`: the message's inputs as Slack sends them (`{"values": …}`);
    `element`: what replaces the button's part of the action (a users_select's
    `{"type": "users_select", "block_id": …, "selected_user": …}`)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0HERALD"},
        "api_app_id": "A0HERALD",
        "team": {"id": "T0HERALD", "domain": "herald-test"},
        "container": {
            "type": "message",
            "message_ts": "1.2",
            "channel_id": channel,
            "is_ephemeral": True,
        },
        "channel": {"id": channel, "name": "release-feed"},
        "trigger_id": trigger_id,
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b",
                "type": "button",
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }
    if state is not None:
        payload["state"] = state
    if element is not None:
        action = payload["actions"][0]
        action.pop("value", None)
        action.update(element)
    return urlencode({"payload": json.dumps(payload)})


def view_submission(
    *, user: str, callback_id: str, values: dict[str, Any], private_metadata: str = ""
) -> str:
    """A modal submitted: its inputs as `view.state.values` (block id → action id → value)."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T0HERALD", "domain": "herald-test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0HERALD"},
        "api_app_id": "A0HERALD",
        "trigger_id": f"{user}.view.trigger",
        "view": {
            "id": "V0HERALD",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def event_callback(event: dict[str, Any], *, event_id: str) -> str:
    """An Events API delivery (JSON, Slack's event wrapper) of `event`."""
    return json.dumps(
        {
            "token": "XXYYZZ",
            "team_id": "T0HERALD",
            "api_app_id": "A0HERALD",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1_700_000_000,
            "authed_users": ["UHERALD"],
        }
    )
