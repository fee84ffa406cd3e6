"""`herald check-config` and `herald emit`, run the way CI and operators run them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.catalog import auto_rollback_enabled, auto_rollback_policy, load_catalog
from bot.channels import service_channels
from bot.cli.main import main
from bot.domain.signals.rollback_policy import AutoRollbackPolicy
from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, Herald
from tests.herald_process import Finished, free_port, run_herald
from tests.waiting import eventually

CheckWebapp = Callable[[str], tuple[int, str]]


@pytest.fixture
def check_webapp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> CheckWebapp:
    """`herald check-config` on a catalogue of one service, webapp, with `fields` (one YAML
    line): its exit code and what it printed."""

    def check(fields: str) -> tuple[int, str]:
        catalog = tmp_path / "services.yaml"
        catalog.write_text(f"services:\n  webapp:\n    {fields}\n")
        monkeypatch.setenv("HERALD_CONFIG", str(catalog))
        code = main(["check-config"])
        return code, capsys.readouterr().out

    return check


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


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (
            "5m",
            "5m is too early to judge: the verdict leaves out 2m of warm-up and needs a 5m "
            "sustain window, so the shortest checkup offset is 7m",
        ),
        ("419s", "6m 59s is too early to judge"),
        ("8d", "8d is too late to judge"),
    ],
)
def test_check_config_refuses_a_checkup_offset_the_verdict_cannot_judge(
    check_webapp: CheckWebapp, offset: str, expected: str
) -> None:
    code, out = check_webapp(f"checkups: [7m, {offset}, 1h]")
    assert code == 1
    assert f"HERALD_CONFIG services.webapp.checkups: {expected}" in out


def test_check_config_accepts_the_shortest_and_longest_checkup_offsets(
    check_webapp: CheckWebapp,
) -> None:
    _, out = check_webapp("checkups: [7m, 420s, 7d]")
    assert "checkups" not in out


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("true", AutoRollbackPolicy(on_red=True)),  # as before: a red checkup only
        ("false", AutoRollbackPolicy()),
        ("{on_alert: true}", AutoRollbackPolicy(on_alert=True)),
        ("{on_red: true, on_alert: true}", AutoRollbackPolicy(on_red=True, on_alert=True)),
        (None, AutoRollbackPolicy()),
    ],
)
def test_auto_rollback_is_a_boolean_or_when_to_roll_back(
    tmp_path: Path, written: str | None, expected: AutoRollbackPolicy
) -> None:
    catalog = tmp_path / "services.yaml"
    line = f"    auto_rollback: {written}\n" if written is not None else ""
    catalog.write_text(f"services:\n  webapp:\n    owners: []\n{line}")
    loaded = load_catalog(catalog)
    assert auto_rollback_policy(loaded, "webapp") == expected
    assert auto_rollback_enabled(loaded, "webapp") is expected.on_red
    assert auto_rollback_policy(loaded, "unknown") == AutoRollbackPolicy()


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("maybe", "auto_rollback: must be true, false or {on_red: true|false, on_alert: "),
        ("{on_alert: sometimes}", "auto_rollback.on_alert: Input should be a valid boolean"),
        ("{on_alrt: true}", "auto_rollback.on_alrt: Extra inputs are not permitted"),
    ],
)
def test_check_config_names_the_auto_rollback_field_that_is_wrong(
    check_webapp: CheckWebapp, written: str, expected: str
) -> None:
    code, out = check_webapp(f"auto_rollback: {written}")
    assert code == 1
    assert f"HERALD_CONFIG services.webapp.{expected}" in out


async def emit(herald: Herald, *args: str) -> Finished:
    """`herald emit ARGS` against the Herald under test, as CI runs it."""
    env = {"HERALD_URL": herald.url, "HERALD_INGEST_TOKEN": INGEST_TOKEN}
    return await run_herald("emit", *args, env=env)


async def test_emit_posts_a_manifest_and_events(
    herald: Herald, slack: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / "release-manifest.json"
    path.write_text(json.dumps(example_manifest()))
    planned = await emit(herald, "manifest", str(path))
    assert planned.code == 0
    assert "recorded: release.planned for rel-2025-10-02.3" in planned.out
    await emit(herald, "event", "rel-2025-10-02.3", "started")
    emitted = await emit(
        herald,
        "event",
        "rel-2025-10-02.3",
        "release.deployed",
        "--lead-time",
        "28800",
        "--link",
        "run=https://ci.example.com/runs/7",
    )
    assert emitted.code == 0, emitted.out
    await eventually(lambda: len(slack.posted(FEED)) == 3)
    deployed = slack.posted(FEED)[2].text
    assert "Lead time: 8h" in deployed
    assert "run ▶️ <https://ci.example.com/runs/7>" in deployed


async def test_emit_exits_non_zero_with_the_servers_error(herald: Herald, tmp_path: Path) -> None:
    missing = await emit(herald, "event", "rel-missing", "started")
    assert missing.code == 1
    assert "HTTP 404: no release with id rel-missing" in missing.err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**example_manifest(), "owner": ""}))
    refused = await emit(herald, "manifest", str(bad))
    assert refused.code == 1
    assert "HTTP 422" in refused.err and "owner:" in refused.err


async def test_emit_refuses_a_malformed_flag(herald: Herald) -> None:
    malformed = await emit(herald, "event", "rel-1", "started", "--link", "no-equals-sign")
    assert malformed.code == 2
    assert "--link expects NAME=VALUE" in malformed.err


async def test_emit_exits_2_when_herald_cannot_be_reached() -> None:
    nobody = {"HERALD_URL": f"http://127.0.0.1:{free_port()}", "HERALD_INGEST_TOKEN": "t"}
    unreachable = await run_herald("emit", "event", "rel-1", "started", env=nobody)
    assert unreachable.code == 2
    assert "herald emit: cannot reach http://127.0.0.1:" in unreachable.err
    assert "Connection refused" in unreachable.err
    not_http = {**nobody, "HERALD_URL": "file:///etc"}
    refused = await run_herald("emit", "event", "rel-1", "started", env=not_http)
    assert refused.code == 2
    assert "HERALD_URL must be an http(s) URL, got 'file:///etc/api/v1/" in refused.err


@pytest.mark.parametrize(
    ("watch", "expected"),
    [
        ("{interval: 20s}", "services.webapp.watch.interval: Input should be '15s' or '30s'"),
        ("{duration: 3h}", "services.webapp.watch.duration: must be between 1m and 2h"),
        ("{recovery_hold: 5s}", "services.webapp.watch.recovery_hold: must be between 15s"),
        (
            "{canary_label: pod-hash}",
            "services.webapp.watch.canary_label: String should match",
        ),
    ],
)
def test_check_config_refuses_a_watch_herald_cannot_keep(
    check_webapp: CheckWebapp, watch: str, expected: str
) -> None:
    code, out = check_webapp(f"watch: {watch}")
    assert code == 1
    assert expected in out


def test_a_watch_can_be_switched_off_or_tuned(check_webapp: CheckWebapp) -> None:
    for fields in ("watch: false", "watch: {interval: 30s, recovery_hold: 1m, duration: 30m}"):
        _, out = check_webapp(fields)
        assert "watch" not in out


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{feed: general}", "channels.feed: must be a Slack channel id such as C0123ABCD"),
        ("{ops: U_ONCALL}", "channels.ops: must be a Slack channel id such as C0123ABCD"),
        ("{pager: C0123ABCD}", "channels.pager: Extra inputs are not permitted"),
    ],
)
def test_check_config_names_the_service_channel_that_is_wrong(
    check_webapp: CheckWebapp, written: str, expected: str
) -> None:
    code, out = check_webapp(f"channels: {written}")
    assert code == 1
    assert f"HERALD_CONFIG services.webapp.{expected}" in out


def test_a_service_may_name_one_or_both_of_its_own_channels(
    check_webapp: CheckWebapp, tmp_path: Path
) -> None:
    for written in ("{feed: C0WEBFEED}", "{ops: G0WEBOPS}", "{feed: C0WEBFEED, ops: C0WEBOPS}"):
        _, out = check_webapp(f"channels: {written}")
        assert "channels" not in out
    catalog = tmp_path / "services.yaml"
    catalog.write_text("services:\n  webapp:\n    channels: {ops: C0WEBOPS}\n  docs: {}\n")
    assert service_channels(load_catalog(catalog)) == {  # approval requests go with its ops
        "webapp": {"ops": "C0WEBOPS", "approvals": "C0WEBOPS"}
    }
