"""app-manifest.yml is a valid Slack v1 app manifest and asks for what Herald needs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import FormatChecker, validators  # type: ignore[import-untyped]

from bot.domain.deploy.parse import Verb
from tests.specs import load_spec

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "app-manifest.yml"
SCHEMA = "slack_app_manifest.schema.1.0.0.json"
EVENTS_PATH = "/slack/events"

# Every bot scope Herald's code needs, and why.
NEEDED_SCOPES = {
    "commands": "the /deploy slash command",
    "chat:write": "chat.postMessage / chat.update / chat.postEphemeral for feed and ops posts",
    "chat:write.public": "post in public channels the bot was not invited to",
    "usergroups:read": "usergroups.users.list: owners may be user groups (S…)",
    "users:read": "resolve user ids for owners, on-call and audit lines",
    "users:read.email": "users.lookupByEmail: the PagerDuty on-call's Slack account",
    "files:write": "files.getUploadURLExternal / completeUploadExternal for long reports",
    "metadata.message:read": "read the release-event metadata on Herald's own messages",
    "channels:history": "conversations.history/replies with include_all_metadata (public)",
    "groups:history": "conversations.history/replies with include_all_metadata (private)",
    "app_mentions:read": "app_mention events: `@Herald status <service>` in a channel",
}


def _errors(schema: dict[str, Any], document: Any) -> list[str]:
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=FormatChecker())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_spec(SCHEMA)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_validator_is_chosen_by_the_schema_dialect(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert validators.validator_for(schema) is validators.Draft7Validator


def test_manifest_validates_against_the_v1_schema(
    schema: dict[str, Any], manifest: dict[str, Any]
) -> None:
    assert _errors(schema, manifest) == []
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}


def test_display_information(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    assert info["name"] == "Herald"
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert manifest["features"]["bot_user"] == {"display_name": "herald", "always_online": True}


def test_deploy_command_and_urls_hit_the_path_herald_serves(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/deploy"
    assert command["should_escape"] is False
    hinted = command["usage_hint"].split(" ")[0].split("|")
    assert sorted(hinted) == sorted(verb.value for verb in Verb)  # every verb Herald parses
    assert command["url"].endswith(EVENTS_PATH)
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith(EVENTS_PATH)


def test_every_scope_herald_needs_is_requested(manifest: dict[str, Any]) -> None:
    requested = set(manifest["oauth_config"]["scopes"]["bot"])
    missing = {scope: why for scope, why in NEEDED_SCOPES.items() if scope not in requested}
    assert missing == {}
    assert requested == set(NEEDED_SCOPES), "a scope is requested that no code path needs"


def test_http_mode_by_default(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("display_information", "name"), "H" * 40),
        (("features", "slash_commands", 0, "command"), "deploy"),
        (("settings", "interactivity", "request_url"), "herald.example.com/slack/events"),
        (("display_information", "long_description"), "too short"),
    ],
    ids=["name-over-35", "command-without-slash", "url-without-scheme", "short-long-description"],
)
def test_the_validator_rejects_a_broken_manifest(
    schema: dict[str, Any], manifest: dict[str, Any], path: tuple[str | int, ...], value: str
) -> None:
    broken = copy.deepcopy(manifest)
    node: Any = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = _errors(schema, broken)
    assert errors, f"schema accepted {path}={value!r}"
    assert any(str(path[-1]) in error for error in errors)


def test_the_home_tab_and_the_events_herald_listens_to_are_declared(
    manifest: dict[str, Any],
) -> None:
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert (home["messages_tab_enabled"], home["messages_tab_read_only_enabled"]) == (True, True)
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"].endswith(EVENTS_PATH)
    assert sorted(events["bot_events"]) == ["app_home_opened", "app_mention"]
    assert "app_mentions:read" in manifest["oauth_config"]["scopes"]["bot"]
