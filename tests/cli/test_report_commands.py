"""`herald digest` and `herald notes` as subprocesses, against a SQLite store filled through
Herald's real HTTP API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.examples import example_manifest
from standins.slack_limits import validate_blocks
from tests.conftest import Herald
from tests.herald_process import Finished, run_herald

pytestmark = pytest.mark.slow

DAY = "2025-10-02"


async def herald_cli(database_url: str, *args: str) -> Finished:
    return await run_herald(*args, env={"HERALD_DATABASE_URL": database_url})


async def ship(herald: Herald, manifest: dict[str, Any], *events: dict[str, Any]) -> None:
    status, body = await herald.post_manifest(manifest)
    assert status == 201, body
    for event in events:
        status, body = await herald.post_event(manifest["id"], **event)
        assert status == 201, body


@pytest.fixture
async def filled(herald: Herald, sqlite_url: str) -> str:
    manifest = example_manifest()
    manifest["changes"] = [
        *manifest["changes"],
        {
            "type": "fix",
            "scope": "api",
            "summary": "<!channel> timeout on /v1/orders",
            "issues": ["INC-881"],
            "customer_visible": True,
            "breaking": True,
            "migration": "retry with the v2 client",
        },
        {"type": "chore", "summary": "bump deps"},
    ]
    manifest["customer_visible"] = ["Invoices show usage per day"]
    manifest["support"] = ["Annual plans are not affected"]
    manifest["flags_rollout"] = {"billing_pricing_v2": 25}
    await ship(
        herald,
        manifest,
        {"event": "release.started", "at": f"{DAY}T20:20:00Z"},
        {"event": "release.deployed", "at": f"{DAY}T20:30:00Z"},
        {"event": "release.failed", "at": f"{DAY}T21:00:00Z", "symptom": "spike in 5xx"},
        {"event": "release.rolled_back", "at": f"{DAY}T21:05:00Z"},
        {"event": "release.recovered", "at": f"{DAY}T21:25:00Z"},
    )
    other = example_manifest() | {"id": "rel-api-7", "service": "api", "version": "7.0.0"}
    await ship(
        herald,
        other,
        {"event": "release.started", "at": f"{DAY}T08:00:00Z"},
        {"event": "release.deployed", "at": f"{DAY}T08:10:00Z"},
    )
    return sqlite_url


async def test_digest_prints_the_period_in_plain_text(filled: str) -> None:
    code, out, err = await herald_cli(filled, "digest", "--since", DAY, "--until", "2025-10-03")
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "Release digest",
        "2 releases shipped between Thu 2 Oct 2025, 00:00 UTC and Fri 3 Oct 2025, 00:00 UTC. "
        "1 release failed: 1 fixed.",
    ]
    assert "api (prod)\n- Thu 2 Oct, 08:10 UTC: Release v7.0.0 (prod) shipped." in out
    assert (
        "webapp (prod)\n- Thu 2 Oct, 20:30 UTC: Release v1.42.0 (prod) shipped. "
        "Customer-visible: Invoices show usage per day; <!channel> timeout on /v1/orders. "
        "New behaviour is behind flag billing_pricing_v2 (25 % of users). "
        "For support: Annual plans are not affected. It then failed: spike in 5xx. "
        "Fixed: rolled back to v1.41.3 and recovered after 25m.\n"
    ) in out


async def test_digest_filters_and_slack_format(filled: str) -> None:
    code, out, err = await herald_cli(
        filled,
        "digest",
        "--days",
        "2",
        "--until",
        "2025-10-03T12:00:00+02:00",
        "--service",
        "webapp",
        "--env",
        "prod",
        "--format",
        "slack",
    )
    assert code == 0, err
    message = json.loads(out)
    assert validate_blocks(message["blocks"]) == []
    assert "1 release shipped between Wed 1 Oct 2025, 10:00 UTC" in message["text"]
    body = message["blocks"][1]["text"]["text"]
    assert body.startswith("*webapp (prod)*\n")
    assert "&lt;!channel&gt; timeout" in body
    assert "<!channel>" not in out


async def test_digest_of_an_empty_period(filled: str) -> None:
    code, out, _ = await herald_cli(
        filled, "digest", "--since", "2025-09-01", "--until", "2025-09-02T00:00:00Z"
    )
    assert code == 0
    assert out == (
        "No releases shipped between Mon 1 Sep 2025, 00:00 UTC and Tue 2 Sep 2025, 00:00 UTC.\n"
    )
    code, out, _ = await herald_cli(filled, "digest", "--since", DAY, "--service", "nope")
    assert code == 0 and out.startswith("No releases shipped between Thu 2 Oct 2025, 00:00 UTC")


async def test_notes_internal_markdown_and_external_slack(filled: str) -> None:
    code, out, err = await herald_cli(filled, "notes", "rel-2025-10-02.3")
    assert code == 0, err
    assert out.startswith("## [1.42.0] - 2025-10-02\n")
    assert "### Added\n- **billing:** usage-based pricing (PROD-2142)" in out
    assert (
        "### Fixed\n- **BREAKING:** **api:** &lt;!channel&gt; timeout on /v1/orders (INC-881)\n"
        "  - Migration: retry with the v2 client"
    ) in out
    assert "### Other\n- bump deps" in out

    code, out, err = await herald_cli(
        filled, "notes", "rel-2025-10-02.3", "--format", "slack", "--audience", "external"
    )
    assert code == 0, err
    assert out.startswith("*Release notes: webapp v1.42.0 (prod)*\n:warning: 1 breaking change")
    assert "*Highlights*\n• Invoices show usage per day" in out
    assert "&lt;!channel&gt; timeout on /v1/orders\n    Migration: retry" in out
    for internal_only in ("PROD-2142", "INC-881", "bump deps", "usage-based pricing"):
        assert internal_only not in out


async def test_notes_of_an_unknown_release(filled: str) -> None:
    code, out, err = await herald_cli(filled, "notes", "rel-nope")
    assert (code, out) == (1, "")
    assert err == "herald notes: no release with id 'rel-nope'\n"


async def test_commands_explain_a_missing_database_and_bad_arguments(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'absent.db'}"
    code, _, err = await herald_cli(missing, "digest")
    assert code == 2
    assert "herald digest: cannot read the database (no SQLite database at" in err
    assert "herald db upgrade" in err
    assert not (tmp_path / "absent.db").exists()
    code, _, err = await herald_cli(missing, "digest", "--since", "yesterday")
    assert code == 2 and "is not an ISO 8601 time" in err
    code, _, err = await herald_cli(missing, "digest", "--since", DAY, "--days", "3")
    assert code == 2 and "not allowed with argument" in err
    code, _, err = await herald_cli(missing, "digest", "--since", DAY, "--until", DAY)
    assert code == 2 and "--since must be before --until" in err
