"""The use cases against in-memory ports: which messages each event causes, and the numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Audience, NoticeKind
from bot.domain.release.recording import record_event, register_release
from bot.errors import Conflict, NotFound
from bot.examples import example_manifest
from tests.fakes import MemoryLedger

NOW = datetime(2025, 10, 3, 4, 0, tzinfo=UTC)


def manifest(**changes: Any) -> Manifest:
    return Manifest.model_validate({**example_manifest(), **changes})


async def record(ledger: MemoryLedger, event: str, **details: Any) -> None:
    request = EventRequest.model_validate({"event": event, **details})
    await record_event(ledger=ledger, release_id="rel-2025-10-02.3", request=request, now=NOW)


async def test_planned_release_opens_the_feed_thread_with_details() -> None:
    ledger = MemoryLedger()
    outcome = await register_release(ledger=ledger, manifest=manifest(), now=NOW)
    assert outcome.created
    assert [(n.kind, n.audience, n.opens_thread) for n in ledger.outbox] == [
        (NoticeKind.EVENT, Audience.FEED, True),
        (NoticeKind.DETAILS, Audience.FEED_THREAD, False),
    ]


async def test_no_details_reply_when_everything_fits_the_template() -> None:
    ledger = MemoryLedger()
    await register_release(ledger=ledger, manifest=manifest(flags=[]), now=NOW)
    assert len(ledger.outbox) == 1


async def test_failure_opens_the_ops_thread_and_later_events_reply_in_it() -> None:
    ledger = MemoryLedger()
    await register_release(ledger=ledger, manifest=manifest(flags=[]), now=NOW)
    await record(ledger, "release.started")
    await record(ledger, "release.failed", symptom="5xx")
    await record(ledger, "release.rolled_back")
    await record(ledger, "release.recovered")
    audiences = [(n.payload.event if n.payload else None, n.audience) for n in ledger.outbox[2:]]
    assert audiences == [
        (EventType.FAILED, Audience.FEED),
        (EventType.FAILED, Audience.OPS),
        (EventType.ROLLED_BACK, Audience.FEED),
        (EventType.ROLLED_BACK, Audience.OPS_THREAD),
        (EventType.RECOVERED, Audience.FEED),
        (EventType.RECOVERED, Audience.OPS_THREAD),
    ]


async def test_time_to_recover_runs_from_failed_to_recovered() -> None:
    ledger = MemoryLedger()
    await register_release(ledger=ledger, manifest=manifest(), now=NOW)
    failed_at = datetime(2025, 10, 2, 21, 0, tzinfo=UTC)
    await record(ledger, "release.started")
    await record(ledger, "release.failed", at=failed_at.isoformat())
    await record(ledger, "release.recovered", at=(failed_at + timedelta(minutes=42)).isoformat())
    recovered = ledger.events[-1].payload
    assert recovered.details["mttr_seconds"] == 42 * 60
    assert recovered.result == "recovered"


async def test_lead_time_comes_from_commit_times_when_ci_does_not_send_it() -> None:
    ledger = MemoryLedger()
    data = example_manifest()
    data["changes"][0]["committed_at"] = "2025-10-02T12:00:00Z"
    data["git"]["committed_at"] = "2025-10-02T14:00:00Z"
    await register_release(ledger=ledger, manifest=Manifest.model_validate(data), now=NOW)
    await record(ledger, "release.started")
    await record(ledger, "release.deployed", at="2025-10-02T20:00:00Z")
    assert ledger.events[-1].payload.details["lead_time_seconds"] == 8 * 3600
    assert ledger.releases["rel-2025-10-02.3"].lead_time_seconds == 8 * 3600


async def test_event_for_an_unknown_release_is_not_found() -> None:
    with pytest.raises(NotFound):
        await record(MemoryLedger(), "release.started")


async def test_changed_manifest_under_the_same_id_conflicts() -> None:
    ledger = MemoryLedger()
    await register_release(ledger=ledger, manifest=manifest(), now=NOW)
    with pytest.raises(Conflict):
        await register_release(ledger=ledger, manifest=manifest(version="9.9.9"), now=NOW)


def test_service_defaults_to_the_last_segment_of_the_repo() -> None:
    data = example_manifest()
    del data["service"]
    data["git"]["repo"] = "https://github.com/acme/Billing-API.git"
    assert Manifest.model_validate(data).service_name == "billing-api"
