"""What a Herald run outside this test process needs and answers: the settings `herald serve`
and `check-config` require, and its JSON once it listens (the wheel, the image)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

# Every setting check-config requires, with values it accepts.
REQUIRED_SETTINGS = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "HERALD_INGEST_TOKEN": "s3cret-ingest",
    "HERALD_FEED_CHANNEL": "C0FEED",
    "HERALD_OPS_CHANNEL": "C0OPS",
}


def get_json_when_up(url: str, *, within: float, log: Callable[[], str]) -> object:
    """The JSON at `url` once the server listens; an AssertionError with `log()` if it never
    does within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {url}: {exc}\n{log()}") from None
            time.sleep(0.3)
