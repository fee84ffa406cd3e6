"""Thin Bolt listeners: ack, parse into typed values, call one use case, render."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.domain.approval.desk import cast_vote
from bot.domain.calendar.entries import Window
from bot.domain.dependencies.graph import build_dependency_report
from bot.domain.deploy.caution import PromoteCaution
from bot.domain.deploy.commander import take_command
from bot.domain.deploy.context import Operations, Reply
from bot.domain.deploy.freezing import declare_freeze, lift_freeze
from bot.domain.deploy.parse import (
    CommandError,
    DeployCommand,
    PromoteGoal,
    PromoteKind,
    Verb,
    parse_command,
)
from bot.domain.deploy.promote import pause, promote
from bot.domain.deploy.rollback import execute_rollback, plan_rollback
from bot.domain.deploy.status import build_status, list_in_flight
from bot.domain.dora.window import DoraWindow, parse_window
from bot.domain.services.directory import UnknownTarget
from bot.domain.text import text
from bot.slack import views
from bot.slack.calendar_view import calendar_message
from bot.slack.deps_view import deps_message
from bot.slack.dora_view import dora_message
from bot.slack.home_listeners import register_home
from bot.slack.home_refresh import HomeViewers
from bot.slack.ids import (
    INBOX_KEY,
    ActionId,
    ButtonValue,
    CancelValue,
    Command,
    HandOverValue,
    InvalidButtonValue,
    PromoteValue,
    ReleaseValue,
    RollbackValue,
    TargetValue,
    VoteValue,
)
from bot.slack.incident_listeners import (
    press_hand_over,
    press_recovered,
    press_recovered_anyway,
    register_incident,
    submission_work,
)
from bot.slack.responses import Respond, Responder
from bot.slack.tasks import Dispatch

log = logging.getLogger(__name__)
Work = Coroutine[Any, Any, None]
V = TypeVar("V", bound=ButtonValue)


@dataclass(frozen=True)
class Button(Generic[V]):
    """One kind of button: the value it carries, and the work a press of it starts (given
    the parsed value, who pressed, and where to answer)."""

    value: type[V]
    run: Callable[[Operations, V, str, Respond], Work]

    def press(self, ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
        """The work for a press; a value Herald cannot read, or a service or env it no longer
        knows, is answered with why instead."""
        action = body["actions"][0]
        try:
            value = self.value.read(body)
            return self.run(ops, value, body["user"]["id"], respond)
        except (InvalidButtonValue, UnknownTarget) as exc:
            extra = {"action_id": action.get("action_id"), "problem": type(exc).__name__}
            log.warning("cannot act on a button press", extra=extra)
            refusal = (
                views.reply_message(Reply(False, exc.text))
                if isinstance(exc, UnknownTarget)
                else views.answer_message(exc.message)
            )
            return _refuse(refusal, respond)


def register(
    app: AsyncApp,
    *,
    ops: Operations,
    dispatch: Dispatch,
    responder: Responder,
    homes: HomeViewers,
) -> None:
    """Attach `/deploy`, its buttons, the incident's controls and the Home tab to Bolt."""

    @app.command(Command.DEPLOY.value)
    async def deploy(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        try:
            parsed = parse_command(command.get("text", ""), directory=ops.directory)
        except (CommandError, UnknownTarget) as exc:
            await ack(views.help_message(ops.directory.names(), problem=exc.text))
            return
        if parsed.verb is Verb.HELP:
            await ack(views.help_message(ops.directory.names()))
            return
        await ack()
        respond = responder.for_request(command)
        dispatch.start(
            lambda: run_command(ops, parsed, user=command["user_id"], respond=respond),
            on_error=error_reply(respond),
            key=context.get(INBOX_KEY),
        )

    for action_id, button in BUTTONS.items():
        listener = _button_listener(button, ops=ops, dispatch=dispatch, responder=responder)
        app.action(action_id.value)(listener)
    register_incident(app, ops=ops, dispatch=dispatch)
    register_home(app, ops=ops, dispatch=dispatch, homes=homes)


def _button_listener(
    button: Button[Any], *, ops: Operations, dispatch: Dispatch, responder: Responder
) -> Any:
    async def listener(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        respond = responder.for_request(body)
        dispatch.start(
            lambda: button.press(ops, body, respond),
            on_error=error_reply(respond),
            key=context.get(INBOX_KEY),
        )

    return listener


def work_for(ops: Operations, body: dict[str, Any], respond: Respond) -> Work | None:
    """The work a stored Slack request owes (None: it was answered in its ack)."""
    if body.get("type") == "view_submission":
        return submission_work(ops, body)
    if "command" in body:
        try:
            parsed = parse_command(body.get("text", ""), directory=ops.directory)
        except (CommandError, UnknownTarget):
            return None
        if parsed.verb is Verb.HELP:
            return None
        return run_command(ops, parsed, user=body["user_id"], respond=respond)
    actions = body.get("actions") or [{}]
    try:
        button = BUTTONS[ActionId(actions[0].get("action_id"))]
    except ValueError:
        return None
    return button.press(ops, body, respond)


def _promote_next(ops: Operations, value: PromoteValue, user: str, respond: Respond) -> Work:
    where = ops.directory.resolve(value.service, value.env)
    work = promote(ops, actor=user, where=where, goal=value.goal, seen=value.seen)
    return _answer_promote(work, respond)


def _promote_anyway(ops: Operations, value: PromoteValue, user: str, respond: Respond) -> Work:
    where = ops.directory.resolve(value.service, value.env)
    work = promote(ops, actor=user, where=where, goal=value.goal, seen=value.seen, confirmed=True)
    return _answer_promote(work, respond, replace=True)


def _pause(ops: Operations, value: TargetValue, user: str, respond: Respond) -> Work:
    where = ops.directory.resolve(value.service, value.env)
    return _answer(pause(ops, actor=user, where=where), respond)


def _rollback_start(ops: Operations, value: TargetValue, user: str, respond: Respond) -> Work:
    command = DeployCommand(Verb.ROLLBACK, value.service, value.env)
    return run_command(ops, command, user=user, respond=respond)


def _rollback_confirm(ops: Operations, value: RollbackValue, user: str, respond: Respond) -> Work:
    work = execute_rollback(ops, actor=user, plan=value.plan)
    return _answer(work, respond, replace=True)


def _take_command(ops: Operations, value: ReleaseValue, user: str, respond: Respond) -> Work:
    return _answer(take_command(ops, actor=user, release_id=value.release_id), respond)


def _approve(ops: Operations, value: VoteValue, user: str, respond: Respond) -> Work:
    work = cast_vote(ops, actor=user, release_id=value.release_id, approve=True)
    return _answer(work, respond)


def _reject(ops: Operations, value: VoteValue, user: str, respond: Respond) -> Work:
    work = cast_vote(
        ops, actor=user, release_id=value.release_id, approve=False, reason=value.reason
    )
    return _answer(work, respond)


async def _rollback_cancel(
    _ops: Operations, _value: CancelValue, _user: str, respond: Respond
) -> None:
    cancelled = Reply(True, text("Rollback cancelled; nothing was changed."))
    await respond(views.reply_message(cancelled, replace=True))


BUTTONS: dict[ActionId, Button[Any]] = {
    ActionId.PROMOTE_NEXT: Button(PromoteValue, _promote_next),
    ActionId.PROMOTE_ANYWAY: Button(PromoteValue, _promote_anyway),
    ActionId.PAUSE: Button(TargetValue, _pause),
    ActionId.ROLLBACK_START: Button(TargetValue, _rollback_start),
    ActionId.ROLLBACK_CONFIRM: Button(RollbackValue, _rollback_confirm),
    ActionId.ROLLBACK_CANCEL: Button(CancelValue, _rollback_cancel),
    ActionId.TAKE_COMMAND: Button(ReleaseValue, _take_command),
    ActionId.APPROVE: Button(VoteValue, _approve),
    ActionId.REJECT: Button(VoteValue, _reject),
    ActionId.HAND_OVER: Button(HandOverValue, press_hand_over),
    ActionId.MARK_RECOVERED: Button(ReleaseValue, press_recovered),
    ActionId.MARK_RECOVERED_ANYWAY: Button(ReleaseValue, press_recovered_anyway),
}


async def run_command(
    ops: Operations, parsed: DeployCommand, *, user: str, respond: Respond
) -> None:
    """The slow part of `/deploy`, after the ack; answers through response_url."""
    if parsed.verb is Verb.STATUS and parsed.service is None:
        await respond(views.in_flight_message(await list_in_flight(ops), public=parsed.public))
        return
    if parsed.verb is Verb.METRICS:
        await respond(await metrics_message(ops, parsed))
        return
    if parsed.verb is Verb.CALENDAR:
        await respond(await calendar_reply(ops, parsed))
        return
    if parsed.verb is Verb.DEPS:
        assert parsed.service is not None
        deps = await build_dependency_report(ops.releases, service=parsed.service)
        await respond(deps_message(deps, public=parsed.public))
        return
    if parsed.freeze is not None:  # freeze and unfreeze: a service or all, an env or all
        change = lift_freeze if parsed.freeze.lift else declare_freeze
        await _answer(change(ops, actor=user, order=parsed.freeze), respond)
        return
    assert parsed.service is not None
    where = ops.directory.resolve(parsed.service, parsed.env)
    if parsed.verb is Verb.STATUS:
        report = await build_status(ops, where=where, actor=user)
        await respond(views.status_message(report, public=parsed.public))
    elif parsed.verb is Verb.PAUSE:
        await _answer(pause(ops, actor=user, where=where), respond)
    elif parsed.verb is Verb.PROMOTE:
        goal = parsed.promote or PromoteGoal(PromoteKind.NEXT)
        work = promote(
            ops, actor=user, where=where, goal=goal, seen=None, break_glass=parsed.break_glass
        )
        await _answer_promote(work, respond)
    elif parsed.verb is Verb.ROLLBACK:
        plan = await plan_rollback(ops, actor=user, where=where, to=parsed.rollback_to)
        if isinstance(plan, Reply):
            await respond(views.reply_message(plan))
        else:
            await respond(views.rollback_confirm_message(plan))


async def calendar_reply(ops: Operations, parsed: DeployCommand) -> dict[str, Any]:
    if ops.calendar is None:
        return views.reply_message(Reply(False, text("The calendar is not available here.")))
    now = ops.clock()
    window = Window.rolling(now, weeks=parsed.weeks)
    freezes = await ops.freezes.calendar(now=now)
    entries = await ops.calendar(window=window, freezes=freezes, service=parsed.service)
    return calendar_message(entries, window=window, service=parsed.service, public=parsed.public)


async def metrics_message(ops: Operations, parsed: DeployCommand) -> dict[str, Any]:
    if ops.dora is None:
        return views.reply_message(Reply(False, text("DORA metrics are not available here.")))
    window = DoraWindow.including(ops.clock(), parse_window(parsed.window))
    report = await ops.dora(window=window, service=parsed.service, env=parsed.env)
    message = dora_message(report)
    return {**message, "response_type": "in_channel" if parsed.public else "ephemeral"}


async def _answer(
    work: Coroutine[Any, Any, Reply], respond: Respond, *, replace: bool = False
) -> None:
    reply: Reply = await work
    await respond(views.reply_message(reply, replace=replace))


async def _answer_promote(
    work: Coroutine[Any, Any, Reply | PromoteCaution], respond: Respond, *, replace: bool = False
) -> None:
    await respond(views.promote_message(await work, replace=replace))


async def _refuse(refusal: dict[str, Any], respond: Respond) -> None:
    await respond(refusal)


def error_reply(respond: Respond) -> Any:
    async def reply(said: str) -> None:
        await respond(views.answer_message(said))

    return reply
