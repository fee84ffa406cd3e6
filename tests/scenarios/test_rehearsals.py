"""Proof that the rollback was rehearsed before production needs it: reported by CI, or seen
by Herald when the same version was rolled back in staging; the gate says which and when."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.examples import example_manifest
from tests.clock import FakeClock
from tests.conftest import Herald, SettingsFactory, start_herald

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PROD = example_manifest()  # webapp 1.42.0 to prod


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    clock = FakeClock(NOW)
    runner = await start_herald(make_settings(), clock=clock)
    async with aiohttp.ClientSession() as session:
        herald = Herald(runner, session)
        assert (await herald.post_manifest(PROD))[0] == 201
        yield herald
    await runner.cleanup()


async def gate_reasons(herald: Herald) -> list[dict[str, Any]]:
    status, answer = await herald.call("GET", f"/api/v1/releases/{PROD['id']}/gate")
    assert status == 200
    reasons: list[dict[str, Any]] = answer["reasons"]
    return reasons


async def test_a_rehearsal_ci_reports_is_in_the_gate_with_when_and_how_it_went(
    herald: Herald,
) -> None:
    at = (NOW - timedelta(days=2)).isoformat()
    status, body = await herald.call(
        "POST",
        f"/api/v1/releases/{PROD['id']}/rehearsals",
        json={"env": "staging", "result": "passed", "at": at, "link": "https://ci.example.com/r/9"},
    )
    assert (status, body["rehearsal"]["source"]) == (201, "reported")
    assert (await gate_reasons(herald))[-1] == {
        "code": "rollback_rehearsed",
        "message": "Rollback rehearsed in staging 2 days ago: passed.",
    }


async def test_the_same_version_rolled_back_in_staging_counts_as_a_rehearsal(
    herald: Herald,
) -> None:
    staging = {**PROD, "id": "rel-staging-1.42.0", "env": "staging"}
    assert (await herald.post_manifest(staging))[0] == 201
    for event in ("release.started", "release.failed", "release.rolled_back"):
        assert (await herald.post_event(staging["id"], event=event))[0] == 201
    assert (await gate_reasons(herald))[-1] == {
        "code": "rollback_rehearsed",
        "message": "Rollback rehearsed in staging just now: passed.",
    }


async def test_a_rehearsal_report_with_an_unknown_result_is_refused_naming_it(
    herald: Herald,
) -> None:
    path = f"/api/v1/releases/{PROD['id']}/rehearsals"
    status, body = await herald.call("POST", path, json={"env": "staging", "result": "maybe"})
    assert status == 422
    assert [d["path"] for d in body["details"]] == ["result"]
    status, _ = await herald.call(
        "POST", "/api/v1/releases/rel-nope/rehearsals", json={"env": "staging", "result": "passed"}
    )
    assert status == 404
