"""Signed Slack requests, built the way Slack builds them."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.conftest import SIGNING_SECRET


def signed_headers(
    body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET, content_type: str
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
    user: str = "U_OWNER",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> str:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": "T0HERALD",
            "team_domain": "herald-test",
            "channel_id": "CFEED",
            "channel_name": "release-feed",
            "user_id": user,
            "user_name": "someone",
            "command": "/deploy",
            "text": text,
            "api_app_id": "A0HERALD",
            "response_url": "https://hooks.slack.invalid/commands/1/2",
            "trigger_id": trigger_id,
        }
    )


def event_callback(event_id: str, event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "token": "legacy-unused",
            "team_id": "T0HERALD",
            "api_app_id": "A0HERALD",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authed_users": ["UHERALD"],
        }
    )
