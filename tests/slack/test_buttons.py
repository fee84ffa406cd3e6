"""Button values: the wire forms of buttons already posted still parse, a value Herald cannot
read is answered (ephemeral, no traceback), and every value is parsed in one place."""

from __future__ import annotations

import logging

import pytest

from bot.domain.deploy.parse import PromoteKind
from bot.domain.deploy.rollback import RollbackKind, RollbackPlan
from bot.domain.text import Code, text
from bot.slack.ids import (
    ActionId,
    ButtonValue,
    CancelValue,
    InvalidButtonValue,
    PromoteValue,
    ReleaseValue,
    RollbackValue,
    TargetValue,
)
from standins.slack import FakeSlack
from tests.conftest import Herald
from tests.slack.conversation import Conversation
from tests.slack.reply import Button

PLAN = RollbackPlan(
    "webapp",
    "prod",
    RollbackKind.ARGO,
    text(
        "Roll `webapp` prod back to 1.41.3 (Argo CD `webapp-prod` history #11, revision 1a2b3c4)."
    ),
    release_id="rel-2025-10-02.3",
    history_id=11,
    revision="1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
    to_version="1.41.3",
    auto_sync=True,
)
# What buttons posted by earlier releases of Herald carry, byte for byte.
POSTED: list[tuple[ButtonValue, str]] = [
    (TargetValue(service="webapp", env="prod"), '{"service": "webapp", "env": "prod"}'),
    (
        PromoteValue(service="webapp", env="prod", seen="webapp-6d4f:2:paused"),
        '{"service": "webapp", "env": "prod", "seen": "webapp-6d4f:2:paused"}',
    ),
    (
        PromoteValue(service="webapp", env="prod", seen=None),
        '{"service": "webapp", "env": "prod", "seen": null}',
    ),
    (
        PromoteValue(service="webapp", env="prod", seen="g", kind=PromoteKind.FULL),
        '{"service": "webapp", "env": "prod", "seen": "g", "kind": "full"}',
    ),
    (
        PromoteValue(service="webapp", env="prod", seen="g", kind=PromoteKind.WEIGHT, weight=60),
        '{"service": "webapp", "env": "prod", "seen": "g", "kind": "weight", "weight": 60}',
    ),
    (RollbackValue(plan=PLAN), PLAN.encode()),
    (
        RollbackValue(
            plan=RollbackPlan(
                "webapp", "prod", RollbackKind.ABORT, text("Abort the canary → stable.")
            )
        ),
        '{"service":"webapp","env":"prod","kind":"abort","summary":"Abort the canary \\u2192 '
        'stable.","release_id":null,"history_id":null,"revision":null,"to_version":null,'
        '"auto_sync":false}',
    ),
    (ReleaseValue(release_id="rel-2025-10-02.3"), "rel-2025-10-02.3"),
    (CancelValue(), "cancel"),
]


@pytest.mark.parametrize(("value", "wire"), POSTED)
def test_button_values_keep_their_wire_form(value: ButtonValue, wire: str) -> None:
    assert value.dump() == wire
    assert type(value).parse(wire) == value


def test_a_rollback_button_of_a_later_attempt_carries_its_number() -> None:
    plan = RollbackPlan("webapp", "prod", RollbackKind.ABORT, text("Abort."), attempt=2)
    wire = RollbackValue(plan=plan).dump()
    assert wire.endswith(',"auto_sync":false,"attempt":2}')
    assert RollbackValue.parse(wire).plan == plan


def test_a_rollback_button_carries_the_summary_as_the_user_saw_it() -> None:
    summary = text("Roll ", Code("webapp"), " prod back to 1.41.3 (Argo CD ", Code("webapp-prod"))
    plan = RollbackPlan("webapp", "prod", RollbackKind.ARGO, summary + " history #11).")
    wire = RollbackValue(plan=plan).dump()
    assert (
        '"summary":"Roll `webapp` prod back to 1.41.3 (Argo CD `webapp-prod` history #11)."' in wire
    )
    assert RollbackValue.parse(wire).plan == RollbackPlan.decode(wire)


def test_an_old_promote_value_without_seen_still_parses() -> None:
    value = PromoteValue.parse('{"service": "webapp", "env": "prod"}')
    assert value == PromoteValue(service="webapp", env="prod", seen=None)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (TargetValue, "not json"),
        (TargetValue, '["webapp", "prod"]'),
        (TargetValue, '{"service": "webapp"}'),
        (PromoteValue, '{"service": "webapp", "env": "prod", "seen": {"x": 1}}'),
        (PromoteValue, '{"service": "webapp", "env": "prod", "kind": "weight", "weight": 0}'),
        (PromoteValue, '{"service": "webapp", "env": "prod", "kind": "sideways"}'),
        (RollbackValue, '{"service": "webapp", "env": "prod", "kind": "argo"}'),
        (RollbackValue, '{"service":"w","env":"p","kind":"sideways","summary":"s"}'),
        (ReleaseValue, ""),
    ],
)
def test_a_value_that_is_not_one_is_an_invalid_button_value(
    kind: type[ButtonValue], raw: str
) -> None:
    with pytest.raises(InvalidButtonValue) as raised:
        kind.parse(raw)
    assert raised.value.message.startswith(":warning: Herald cannot read this button")
    assert raised.value.value_type == kind.__name__


async def press(herald: Herald, slack: FakeSlack, action: ActionId, value: str) -> str:
    """Press a button through Slack's signed request; returns Herald's answer's text."""
    chat = Conversation(url=herald.url, session=herald.session, slack=slack)
    answer = await chat.click(Button(action, value, {}))
    assert answer.body["response_type"] == "ephemeral"
    return answer.text


async def test_a_button_herald_cannot_read_is_answered_not_raised(
    herald: Herald, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        text = await press(herald, slack, ActionId.PAUSE, "{not json")
    assert text == InvalidButtonValue("TargetValue").message
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.slack.listeners"] == [
        "cannot act on a button press"
    ]


async def test_a_button_for_a_service_herald_no_longer_knows_says_so(
    herald: Herald, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        text = await press(
            herald, slack, ActionId.PROMOTE_NEXT, PromoteValue(service="gone", env="prod").dump()
        )
    assert text.startswith("Unknown service `gone`.")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
