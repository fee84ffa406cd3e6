"""Thin Bolt listeners: ack, parse into typed values, call one use case, render."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.domain.deploy.commander import take_command
from bot.domain.deploy.context import Operations, Reply
from bot.domain.deploy.parse import (
    CommandError,
    DeployCommand,
    PromoteGoal,
    PromoteKind,
    Verb,
    parse_command,
)
from bot.domain.deploy.promote import pause, promote
from bot.domain.deploy.rollback import RollbackPlan, execute_rollback, plan_rollback
from bot.domain.deploy.status import build_status, list_in_flight
from bot.domain.dora.window import DoraWindow, parse_window
from bot.domain.services.directory import UnknownTarget
from bot.slack import views
from bot.slack.dora_view import dora_message
from bot.slack.ids import INBOX_KEY, ActionId, Command
from bot.slack.responses import Respond, Responder
from bot.slack.tasks import BackgroundTasks

Work = Coroutine[Any, Any, None]
ButtonWork = Callable[[Operations, dict[str, Any], Respond], Work]


def register(
    app: AsyncApp, *, ops: Operations, tasks: BackgroundTasks, responder: Responder
) -> None:
    """Attach `/deploy` and its buttons to the Bolt app."""

    @app.command(Command.DEPLOY.value)
    async def deploy(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        try:
            parsed = parse_command(command.get("text", ""), directory=ops.directory)
        except (CommandError, UnknownTarget) as exc:
            await ack(views.help_message(ops.directory.names(), problem=exc.message))
            return
        if parsed.verb is Verb.HELP:
            await ack(views.help_message(ops.directory.names()))
            return
        await ack()
        respond = responder.for_request(command)
        work = run_command(ops, parsed, user=command["user_id"], respond=respond)
        tasks.spawn(work, on_error=error_reply(respond), key=context.get(INBOX_KEY))

    for action_id, button in BUTTONS.items():
        listener = _button_listener(button, ops=ops, tasks=tasks, responder=responder)
        app.action(action_id.value)(listener)


def _button_listener(
    button: ButtonWork, *, ops: Operations, tasks: BackgroundTasks, responder: Responder
) -> Any:
    async def listener(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        respond = responder.for_request(body)
        work = button(ops, body, respond)
        tasks.spawn(work, on_error=error_reply(respond), key=context.get(INBOX_KEY))

    return listener


def work_for(ops: Operations, body: dict[str, Any], respond: Respond) -> Work | None:
    """The work a stored Slack request owes (None: it was answered in its ack)."""
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
    return button(ops, body, respond)


def _promote_next(ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
    value = _button_value(body)
    where = ops.directory.resolve(value["service"], value["env"])
    goal = PromoteGoal(PromoteKind.NEXT)
    work = promote(ops, actor=body["user"]["id"], where=where, goal=goal, seen=value.get("seen"))
    return _answer(work, respond)


def _pause(ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
    value = _button_value(body)
    where = ops.directory.resolve(value["service"], value["env"])
    return _answer(pause(ops, actor=body["user"]["id"], where=where), respond)


def _rollback_start(ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
    value = _button_value(body)
    command = DeployCommand(Verb.ROLLBACK, value["service"], value["env"])
    return run_command(ops, command, user=body["user"]["id"], respond=respond)


def _rollback_confirm(ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
    plan = RollbackPlan.decode(body["actions"][0]["value"])
    work = execute_rollback(ops, actor=body["user"]["id"], plan=plan)
    return _answer(work, respond, replace=True)


def _take_command(ops: Operations, body: dict[str, Any], respond: Respond) -> Work:
    work = take_command(ops, actor=body["user"]["id"], release_id=body["actions"][0]["value"])
    return _answer(work, respond)


async def _rollback_cancel(_ops: Operations, _body: dict[str, Any], respond: Respond) -> None:
    cancelled = Reply(True, "Rollback cancelled; nothing was changed.")
    await respond(views.reply_message(cancelled, replace=True))


BUTTONS: dict[ActionId, ButtonWork] = {
    ActionId.PROMOTE_NEXT: _promote_next,
    ActionId.PAUSE: _pause,
    ActionId.ROLLBACK_START: _rollback_start,
    ActionId.ROLLBACK_CONFIRM: _rollback_confirm,
    ActionId.ROLLBACK_CANCEL: _rollback_cancel,
    ActionId.TAKE_COMMAND: _take_command,
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
    assert parsed.service is not None
    where = ops.directory.resolve(parsed.service, parsed.env)
    if parsed.verb is Verb.STATUS:
        report = await build_status(ops, where=where)
        await respond(views.status_message(report, public=parsed.public))
    elif parsed.verb is Verb.PAUSE:
        await _answer(pause(ops, actor=user, where=where), respond)
    elif parsed.verb is Verb.PROMOTE:
        goal = parsed.promote or PromoteGoal(PromoteKind.NEXT)
        await _answer(promote(ops, actor=user, where=where, goal=goal, seen=None), respond)
    elif parsed.verb is Verb.ROLLBACK:
        plan = await plan_rollback(ops, actor=user, where=where, to=parsed.rollback_to)
        if isinstance(plan, Reply):
            await respond(views.reply_message(plan))
        else:
            await respond(views.rollback_confirm_message(plan))


async def metrics_message(ops: Operations, parsed: DeployCommand) -> dict[str, Any]:
    if ops.dora is None:
        return views.reply_message(Reply(False, "DORA metrics are not available here."))
    window = DoraWindow.ending(ops.clock(), parse_window(parsed.window))
    report = await ops.dora(window=window, service=parsed.service, env=parsed.env)
    message = dora_message(report)
    return {**message, "response_type": "in_channel" if parsed.public else "ephemeral"}


async def _answer(
    work: Coroutine[Any, Any, Reply], respond: Respond, *, replace: bool = False
) -> None:
    reply: Reply = await work
    await respond(views.reply_message(reply, replace=replace))


def _button_value(body: dict[str, Any]) -> dict[str, Any]:
    value = json.loads(body["actions"][0]["value"])
    if not isinstance(value, dict):
        raise ValueError("button value is not an object")
    return value


def error_reply(respond: Respond) -> Any:
    async def reply(text: str) -> None:
        await respond(views.reply_message(Reply(False, text)))

    return reply
