"""`herald check-config` and `herald emit`, run the way CI and operators run them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, Herald
from tests.waiting import eventually


def test_check_config_lists_every_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text("services:\n  webapp:\n    owners: [not-an-id]\n    colour: blue\n")
    monkeypatch.setenv("HERALD_CONFIG", str(catalog))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "changeme")
    monkeypatch.setenv("PROMETHEUS_URL", "prometheus:9090")
    assert main(["check-config"]) == 1
    out = capsys.readouterr().out
    for expected in (
        "SLACK_BOT_TOKEN is still a placeholder value",
        "SLACK_SIGNING_SECRET is not set",
        "HERALD_INGEST_TOKEN is not set",
        "HERALD_FEED_CHANNEL is not set",
        "PROMETHEUS_URL must be an http(s) URL",
        "HERALD_CONFIG services.webapp.owners.0:",
        "HERALD_CONFIG services.webapp.colour: Extra inputs are not permitted",
    ):
        assert expected in out


def test_check_config_passes_a_complete_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1-2-3",
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "HERALD_INGEST_TOKEN": "s3cret-ingest",
        "HERALD_FEED_CHANNEL": "C0FEED",
        "HERALD_OPS_CHANNEL": "C0OPS",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config"]) == 0
    assert "configuration OK" in capsys.readouterr().out


async def emit(herald: Herald, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "HERALD_URL": herald.url, "HERALD_INGEST_TOKEN": INGEST_TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "emit",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_emit_posts_a_manifest_and_events(
    herald: Herald, slack: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / "release-manifest.json"
    path.write_text(json.dumps(example_manifest()))
    code, out, _ = await emit(herald, "manifest", str(path))
    assert code == 0
    assert "recorded: release.planned for rel-2025-10-02.3" in out
    await emit(herald, "event", "rel-2025-10-02.3", "started")
    code, out, _ = await emit(
        herald,
        "event",
        "rel-2025-10-02.3",
        "release.deployed",
        "--lead-time",
        "28800",
        "--link",
        "run=https://ci.example.com/runs/7",
    )
    assert code == 0, out
    await eventually(lambda: len(slack.posted(FEED)) == 3)
    deployed = slack.posted(FEED)[2].text
    assert "Lead time: 8h" in deployed
    assert "run ▶️ <https://ci.example.com/runs/7>" in deployed


async def test_emit_exits_non_zero_with_the_servers_error(herald: Herald, tmp_path: Path) -> None:
    code, _, err = await emit(herald, "event", "rel-missing", "started")
    assert code == 1
    assert "HTTP 404: no release with id rel-missing" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**example_manifest(), "owner": ""}))
    code, _, err = await emit(herald, "manifest", str(bad))
    assert code == 1
    assert "HTTP 422" in err and "owner:" in err


async def test_emit_refuses_a_malformed_flag(herald: Herald) -> None:
    code, _, err = await emit(herald, "event", "rel-1", "started", "--link", "no-equals-sign")
    assert code == 2
    assert "--link expects NAME=VALUE" in err
