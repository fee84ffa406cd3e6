"""Every recorded lifecycle event is one structured log line carrying exactly the payload the
feed message's metadata carries: what a log pipeline reads is what Slack shows."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, Herald
from tests.waiting import eventually

RELEASE = example_manifest()["id"]


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.payload  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "herald.events" and record.getMessage() == "release event recorded"
    ]


async def test_each_event_is_logged_once_with_the_payload_slack_gets(
    herald: Herald, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="herald.events")
    assert (await herald.post_manifest(example_manifest()))[0] == 201
    assert (await herald.post_event(RELEASE, event="release.started"))[0] == 201
    assert (await herald.post_event(RELEASE, event="release.started"))[0] == 200  # a repeat
    await eventually(lambda: len(slack.posted(FEED)) == 2)
    shown = [m.metadata["event_payload"] for m in slack.posted(FEED) if m.metadata]
    # the outbox id is the delivery's bookkeeping (finding a message after a timeout)
    assert logged(caplog) == [
        {k: v for k, v in p.items() if k != "herald_outbox_id"} for p in shown
    ]
    assert [p["event"] for p in logged(caplog)] == ["release.planned", "release.started"]
