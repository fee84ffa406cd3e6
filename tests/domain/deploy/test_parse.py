"""`/deploy` text parsing: the documented forms, clear errors, and fuzzing with hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.deploy.parse import (
    CommandError,
    DeployCommand,
    PromoteGoal,
    PromoteKind,
    Verb,
    parse_command,
)
from bot.domain.services.directory import Directory, ServiceEntry, ServiceEnv, UnknownTarget
from bot.slack.mrkdwn import render


def env(service: str, name: str) -> ServiceEnv:
    return ServiceEnv(service, name, None)


DIRECTORY = Directory(
    services={
        "webapp": ServiceEntry(
            "webapp", envs={"prod": env("webapp", "prod"), "staging": env("webapp", "staging")}
        ),
        "billing": ServiceEntry(
            "billing", envs={"eu": env("billing", "eu"), "us": env("billing", "us")}
        ),
        "search": ServiceEntry("search", envs={"qa": env("search", "qa")}),
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", DeployCommand(Verb.HELP)),
        ("help", DeployCommand(Verb.HELP)),
        ("status", DeployCommand(Verb.STATUS)),
        ("status webapp", DeployCommand(Verb.STATUS, "webapp")),
        ("  STATUS   webapp   staging ", DeployCommand(Verb.STATUS, "webapp", "staging")),
        ("status webapp public", DeployCommand(Verb.STATUS, "webapp", public=True)),
        ("pause webapp", DeployCommand(Verb.PAUSE, "webapp")),
        (
            "promote webapp",
            DeployCommand(Verb.PROMOTE, "webapp", promote=PromoteGoal(PromoteKind.NEXT)),
        ),
        (
            "promote webapp 50%",
            DeployCommand(Verb.PROMOTE, "webapp", promote=PromoteGoal(PromoteKind.WEIGHT, 50)),
        ),
        (
            "promote webapp prod full",
            DeployCommand(Verb.PROMOTE, "webapp", "prod", promote=PromoteGoal(PromoteKind.FULL)),
        ),
        ("rollback webapp", DeployCommand(Verb.ROLLBACK, "webapp")),
        ("rollback webapp 1.41.3", DeployCommand(Verb.ROLLBACK, "webapp", rollback_to="1.41.3")),
        ("rollback webapp v1.41.3", DeployCommand(Verb.ROLLBACK, "webapp", rollback_to="1.41.3")),
        ("rollback webapp 2b5d9af", DeployCommand(Verb.ROLLBACK, "webapp", rollback_to="2b5d9af")),
        (
            "rollback webapp staging 2B5D9AF",
            DeployCommand(Verb.ROLLBACK, "webapp", "staging", rollback_to="2b5d9af"),
        ),
        ("status search", DeployCommand(Verb.STATUS, "search")),
    ],
)
def test_documented_forms(text: str, expected: DeployCommand) -> None:
    assert parse_command(text, directory=DIRECTORY) == expected


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("status webap", UnknownTarget, "Did you mean webapp?"),
        ("status nothing-like-it", UnknownTarget, "Known services: billing, search, webapp"),
        ("status webapp dev", UnknownTarget, "no environment `dev`. Known: prod, staging"),
        ("status billing", UnknownTarget, "several environments (eu, us); say which"),
        ("promote webapp 150%", CommandError, "not a weight"),
        ("promote webapp 50% full", CommandError, "at most one"),
        ("rollback webapp ;rm", CommandError, "is not a service"),
        ("rollback webapp latest", CommandError, "neither a version"),
        ("deploy webapp", CommandError, "Unknown command `deploy`"),
        ("pause", CommandError, "needs a service"),
        ("x" * 201, CommandError, "at most 200"),
        ("status <!channel>", CommandError, "&lt;!channel&gt;"),
    ],
)
def test_bad_input_says_what_was_wrong(text: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        parse_command(text, directory=DIRECTORY)
    raised = caught.value
    assert isinstance(raised, CommandError | UnknownTarget)
    assert fragment in render(raised.text)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_a_clear_error(text: str) -> None:
    try:
        command = parse_command(text, directory=DIRECTORY)
    except (CommandError, UnknownTarget) as exc:
        message = render(exc.text)
        assert message and "<" not in message.replace("&lt;", "")
        return
    # a command names its service right after the verb, and help names none
    named = [w.lower() for w in text.split() if w.lower() in DIRECTORY.services]
    assert command.service == (None if command.verb is Verb.HELP or not named else named[0])


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["status", "pause", "promote", "rollback"]),
    st.sampled_from(["webapp", "WEBAPP", "search"]),
    st.lists(
        st.sampled_from(["prod", "staging", "50%", "full", "1.2.3", "abcdef1", " ", "public"]),
        max_size=3,
    ),
)
def test_word_combinations_never_crash(verb: str, service: str, rest: list[str]) -> None:
    text = " ".join([verb, service, *rest])
    try:
        command = parse_command(text, directory=DIRECTORY)
    except (CommandError, UnknownTarget):
        return
    assert command.verb.value == verb
    assert command.service == service.lower()
