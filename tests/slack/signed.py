"""Signed Slack requests for tests, with the test signing secret."""

from __future__ import annotations

from standins import slack_requests
from tests.conftest import SIGNING_SECRET

DEFAULT_TRIGGER = "13345224609.738474920.8088930838d88f008e0"


def signed_headers(
    body: str,
    *,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    content_type: str = slack_requests.FORM,
) -> dict[str, str]:
    return slack_requests.signed_headers(
        body, secret=secret, timestamp=timestamp, content_type=content_type
    )


def slash_command(text: str, *, user: str = "U0OWNER", trigger_id: str = DEFAULT_TRIGGER) -> str:
    return slack_requests.slash_command(text, user=user, trigger_id=trigger_id)
