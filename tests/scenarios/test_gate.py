"""CI asks Herald whether a release may ship: `GET /api/v1/releases/{id}/gate` and
`herald emit gate`, over real HTTP, while the catalogue's freezes begin and end; and a
release that starts in a freeze anyway is said loudly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import yaml

from bot.catalog import Catalog
from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, INGEST_TOKEN, OPS, Herald, SettingsFactory, start_herald
from tests.herald_process import Finished, free_port, run_herald
from tests.waiting import eventually

RELEASE = example_manifest()["id"]  # webapp in prod
CATALOG = Catalog.model_validate(
    yaml.safe_load(
        """
services:
  webapp:
    owners: [U0OWNER01]
    environments:
      prod: {argocd_app: webapp-prod}
freezes:
  - name: weekend
    reason: No deploys over the weekend
    rrule: FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=0
    duration: 65h
    timezone: Europe/Berlin
    envs: [prod]
"""
    )
)
THURSDAY = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(THURSDAY)


@pytest.fixture
async def gated(make_settings: SettingsFactory, clock: FakeClock) -> AsyncIterator[Herald]:
    runner = await start_herald(make_settings(), catalog=CATALOG, clock=clock)
    async with aiohttp.ClientSession() as session:
        herald = Herald(runner, session)
        status, _ = await herald.post_manifest(example_manifest())
        assert status == 201
        yield herald
    await runner.cleanup()


async def gate(herald: Herald, release_id: str = RELEASE) -> tuple[int, dict[str, Any]]:
    return await herald.call("GET", f"/api/v1/releases/{release_id}/gate")


async def test_outside_a_freeze_the_gate_says_go(gated: Herald) -> None:
    status, answer = await gate(gated)
    assert status == 200
    assert (answer["decision"], answer["go"]) == ("go", True)
    assert (answer["service"], answer["env"]) == ("webapp", "prod")
    assert answer["reasons"] == [
        {"code": "no_freeze", "message": "No freeze holds webapp in prod."},
        {"code": "approval_not_required", "message": "No approval policy covers it."},
        {
            "code": "rollback_not_rehearsed",
            "message": "Its rollback was not rehearsed in another env.",
        },
    ]


async def test_in_the_weekend_freeze_the_gate_says_frozen_until_monday_eight_in_berlin(
    gated: Herald, clock: FakeClock
) -> None:
    """Summer time begins that Sunday: Monday 08:00 in Berlin is 06:00 UTC."""
    clock.now = SATURDAY
    status, answer = await gate(gated)
    assert (status, answer["decision"], answer["go"]) == (200, "frozen", False)
    assert answer["reasons"] == [
        {
            "code": "frozen",
            "message": "webapp in prod is frozen until 2026-03-30 06:00 UTC"
            " (weekend: No deploys over the weekend).",
            "until": "2026-03-30T06:00:00+00:00",
            "window": "weekend",
        }
    ]
    clock.now = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert (await gate(gated))[1]["decision"] == "go"


async def test_the_gate_of_an_unknown_release_or_without_the_token_is_refused(
    gated: Herald,
) -> None:
    status, answer = await gate(gated, "rel-unknown")
    assert (status, answer["error"]) == (404, "no release with id rel-unknown")
    status, _ = await gated.call("GET", f"/api/v1/releases/{RELEASE}/gate", token="wrong")
    assert status == 401


async def emit_gate(herald: Herald, *args: str) -> Finished:
    env = {"HERALD_URL": herald.url, "HERALD_INGEST_TOKEN": INGEST_TOKEN}
    return await run_herald("emit", "gate", *args, env=env)


async def test_herald_emit_gate_exits_0_on_go_and_2_when_frozen_printing_why(
    gated: Herald, clock: FakeClock
) -> None:
    go = await emit_gate(gated, RELEASE)
    assert go.code == 0, go.err
    assert go.out.splitlines() == [
        f"gate: go for {RELEASE} (webapp prod 1.42.0)",
        "  - No freeze holds webapp in prod.",
        "  - No approval policy covers it.",
        "  - Its rollback was not rehearsed in another env.",
    ]
    clock.now = SATURDAY + timedelta(hours=1)
    frozen = await emit_gate(gated, RELEASE, "--wait", "30m")
    assert frozen.code == 2
    assert "gate: frozen" in frozen.err and "frozen until 2026-03-30 06:00 UTC" in frozen.err


async def test_herald_emit_gate_exits_1_when_herald_refuses_the_question(gated: Herald) -> None:
    unknown = await emit_gate(gated, "rel-unknown")
    assert unknown.code == 1
    assert "HTTP 404: no release with id rel-unknown" in unknown.err
    malformed = await emit_gate(gated, RELEASE, "--wait", "soon")
    assert malformed.code == 2
    assert "'soon' is not a duration such as 90s, 30m or 2h" in malformed.err


async def test_herald_emit_gate_refuses_a_herald_url_that_is_no_http_url_at_once() -> None:
    not_http = {"HERALD_URL": "file:///etc", "HERALD_INGEST_TOKEN": "t"}
    refused = await run_herald("emit", "gate", RELEASE, "--wait", "30m", env=not_http)
    assert refused.code == 2
    assert "herald emit gate: HERALD_URL must be an http(s) URL" in refused.err
    assert "Traceback" not in refused.err


async def test_herald_emit_gate_keeps_asking_an_unreachable_herald_until_the_wait_is_over() -> None:
    nobody = {"HERALD_URL": f"http://127.0.0.1:{free_port()}", "HERALD_INGEST_TOKEN": "t"}
    waited = await run_herald("emit", "gate", RELEASE, "--wait", "2s", "--every", "0.5", env=nobody)
    assert waited.code == 2
    assert waited.err.count("Connection refused") == 1  # said once, not at every question
    assert "herald emit gate: still not decided after 2 s" in waited.err


async def test_a_release_started_anyway_in_a_freeze_is_marked_in_the_feed_and_ops(
    gated: Herald, clock: FakeClock, slack: FakeSlack
) -> None:
    """CI skipped the gate: the start is recorded, its payload says which freeze it broke,
    the feed card gets a loud reply and #release-ops a message."""
    clock.now = SATURDAY
    status, body = await gated.post_event(RELEASE, event="release.started")
    assert status == 201
    assert body["event"]["during_freeze"] == {
        "window": "weekend",
        "reason": "No deploys over the weekend",
        "until": "2026-03-30T06:00:00+00:00",
    }
    said = "started during the freeze weekend (No deploys over the weekend)"
    await eventually(lambda: any(said in m.text for m in slack.posted(OPS)), what="ops message")
    (root,) = [m for m in slack.posted(FEED) if "release.planned" in m.text]
    await eventually(lambda: any(said in r.text for r in slack.replies(FEED, root.ts)))


async def test_a_release_started_outside_a_freeze_says_nothing_of_freezes(
    gated: Herald, slack: FakeSlack
) -> None:
    status, body = await gated.post_event(RELEASE, event="release.started")
    assert status == 201 and "during_freeze" not in body["event"]
    await eventually(lambda: len(slack.posted(FEED)) == 2, what="the started card")
    assert slack.posted(OPS) == []


async def test_an_argo_cd_sync_that_starts_in_a_freeze_is_marked_too(
    gated: Herald, clock: FakeClock, slack: FakeSlack
) -> None:
    """Nobody asked the gate: Argo CD synced on its own (auto-sync), and the start it reports
    is said in #release-ops like one from CI."""
    clock.now = SATURDAY
    body = {
        "trigger": "on-sync-running",
        "app": "webapp-prod",
        "revision": example_manifest()["git"]["commit"] + "0" * 8,
        "images": ["ghcr.io/acme/webapp:1.42.0"],
    }
    status, answer = await gated.call("POST", "/hooks/argocd", json=body)
    assert (status, answer["events"]) == (200, ["release.started"])
    said = "started during the freeze weekend"
    await eventually(lambda: any(said in m.text for m in slack.posted(OPS)), what="ops message")


def payments(version: str) -> dict[str, object]:
    release = {**example_manifest(), "id": f"rel-payments-{version}", "version": version}
    return {
        **release,
        "service": "payments",
        "git": {"repo": "github.com/acme/payments", "commit": "abc1234"},
    }


async def ship(herald: Herald, manifest: dict[str, object]) -> None:
    assert (await herald.post_manifest(manifest))[0] == 201
    for event in ("release.started", "release.deployed"):
        assert (await herald.post_event(str(manifest["id"]), event=event))[0] == 201


async def test_a_release_that_needs_a_newer_payments_waits_until_prod_runs_it(
    gated: Herald,
) -> None:
    """checkout 3.1 requires payments >= 2.3.0 in prod: pending while prod runs 2.2.1, go
    once 2.3.0 is deployed, each time saying what runs there."""
    checkout = {
        **example_manifest(), "id": "rel-checkout-3.1", "service": "checkout", "version": "3.1.0",
        "requires": [{"service": "payments", "version": ">=2.3.0"}],
    }  # fmt: skip
    assert (await gated.post_manifest(checkout))[0] == 201
    status, answer = await gate(gated, "rel-checkout-3.1")
    assert (status, answer["decision"]) == (200, "pending")
    assert answer["reasons"] == [
        {
            "code": "requires_unmet",
            "message": "checkout 3.1.0 requires payments >=2.3.0 in prod;"
            " nothing is deployed there yet.",
        }
    ]
    await ship(gated, payments("2.2.1"))
    reasons = (await gate(gated, "rel-checkout-3.1"))[1]["reasons"]
    assert reasons[0]["message"].endswith("; it runs 2.2.1.")
    waited = await emit_gate(gated, "rel-checkout-3.1", "--wait", "1s", "--every", "0.3")
    assert waited.code == 2 and "still not decided after 1 s" in waited.err
    await ship(gated, payments("2.3.0"))
    status, answer = await gate(gated, "rel-checkout-3.1")
    assert answer["decision"] == "go"
    assert answer["reasons"][1] == {
        "code": "requires_met",
        "message": "checkout 3.1.0 requires payments >=2.3.0 in prod: it runs 2.3.0.",
    }


async def test_a_requirement_that_is_no_version_range_is_refused_naming_the_field(
    gated: Herald,
) -> None:
    bad = {
        **example_manifest(),
        "id": "rel-bad",
        "requires": [{"service": "payments", "version": "^2.3"}],
    }
    status, answer = await gated.post_manifest(bad)
    assert status == 422
    (problem,) = answer["details"]
    assert problem["path"] == "requires[0].version"
    assert "'^2.3' is not a PEP 440 version range, e.g. >=2.3.0,<3" in problem["message"]
