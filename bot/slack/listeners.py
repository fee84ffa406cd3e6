"""Thin Bolt listeners: ack, parse into typed values, call one use case, render."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.domain.commands import (
    CommandError,
    DeployCommand,
    PromoteGoal,
    PromoteKind,
    Verb,
    parse_command,
)
from bot.domain.dora import DoraWindow, parse_window
from bot.domain.operations import Operations, Reply, pause, promote, take_command
from bot.domain.rollback import RollbackPlan, execute_rollback, plan_rollback
from bot.domain.services import UnknownTarget
from bot.domain.status import build_status, list_in_flight
from bot.slack import views
from bot.slack.dora_view import dora_message
from bot.slack.ids import ActionId, Command
from bot.slack.tasks import BackgroundTasks


def register(app: AsyncApp, *, ops: Operations, tasks: BackgroundTasks) -> None:
    """Attach `/deploy` and its buttons to the Bolt app."""

    @app.command(Command.DEPLOY.value)
    async def deploy(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            parsed = parse_command(command.get("text", ""), directory=ops.directory)
        except (CommandError, UnknownTarget) as exc:
            await ack(views.help_message(ops.directory.names(), problem=exc.message))
            return
        if parsed.verb is Verb.HELP:
            await ack(views.help_message(ops.directory.names()))
            return
        await ack()
        tasks.spawn(
            run_command(ops, parsed, user=command["user_id"], respond=respond),
            on_error=_error_reply(respond),
        )

    @app.action(ActionId.PROMOTE_NEXT.value)
    async def promote_next(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = _button_value(body)
        where = ops.directory.resolve(value["service"], value["env"])
        goal = PromoteGoal(PromoteKind.NEXT)
        work = promote(
            ops, actor=body["user"]["id"], where=where, goal=goal, seen=value.get("seen")
        )
        tasks.spawn(_answer(work, respond), on_error=_error_reply(respond))

    @app.action(ActionId.PAUSE.value)
    async def pause_button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = _button_value(body)
        where = ops.directory.resolve(value["service"], value["env"])
        tasks.spawn(
            _answer(pause(ops, actor=body["user"]["id"], where=where), respond),
            on_error=_error_reply(respond),
        )

    @app.action(ActionId.ROLLBACK_START.value)
    async def rollback_start(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = _button_value(body)
        command = DeployCommand(Verb.ROLLBACK, value["service"], value["env"])
        tasks.spawn(
            run_command(ops, command, user=body["user"]["id"], respond=respond),
            on_error=_error_reply(respond),
        )

    @app.action(ActionId.ROLLBACK_CONFIRM.value)
    async def rollback_confirm(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        plan = RollbackPlan.decode(body["actions"][0]["value"])
        work = execute_rollback(ops, actor=body["user"]["id"], plan=plan)
        tasks.spawn(_answer(work, respond, replace=True), on_error=_error_reply(respond))

    @app.action(ActionId.TAKE_COMMAND.value)
    async def take_command_button(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        work = take_command(ops, actor=body["user"]["id"], release_id=body["actions"][0]["value"])
        tasks.spawn(_answer(work, respond), on_error=_error_reply(respond))

    @app.action(ActionId.ROLLBACK_CANCEL.value)
    async def rollback_cancel(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(
            views.reply_message(
                Reply(True, "Rollback cancelled; nothing was changed."), replace=True
            )
        )


async def run_command(
    ops: Operations, parsed: DeployCommand, *, user: str, respond: AsyncRespond
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


async def _answer(work: Any, respond: AsyncRespond, *, replace: bool = False) -> None:
    reply: Reply = await work
    await respond(views.reply_message(reply, replace=replace))


def _button_value(body: dict[str, Any]) -> dict[str, Any]:
    value = json.loads(body["actions"][0]["value"])
    if not isinstance(value, dict):
        raise ValueError("button value is not an object")
    return value


def _error_reply(respond: AsyncRespond) -> Any:
    async def reply(text: str) -> None:
        await respond(views.reply_message(Reply(False, text)))

    return reply
