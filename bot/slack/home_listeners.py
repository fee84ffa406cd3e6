"""Herald's own place in Slack: the Home tab, published when someone opens it, and
`@Herald status <service> [env]` in a channel, answered in a thread like `/deploy status`."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations
from bot.domain.deploy.parse import CommandError, Verb, parse_command
from bot.domain.deploy.status import build_status
from bot.domain.home.screen import switch_dms
from bot.domain.services.directory import UnknownTarget
from bot.slack import views
from bot.slack.home_refresh import HomeViewers
from bot.slack.ids import ActionId
from bot.slack.mrkdwn import render
from bot.slack.tasks import Dispatch

log = logging.getLogger(__name__)
_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+>\s*")


def register_home(
    app: AsyncApp, *, ops: Operations, dispatch: Dispatch, homes: HomeViewers
) -> None:
    """Both answer after the event is acknowledged: Slack wants its ack within 3 s. A Home
    opened is kept current by `homes`."""

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        dispatch.start(lambda: homes.publish(user), on_error=_logged, key=None)

    for action_id, on in ((ActionId.DMS_ON, True), (ActionId.DMS_OFF, False)):
        app.action(action_id.value)(_switch(ops, dispatch, homes, on=on))

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], client: AsyncWebClient) -> None:
        dispatch.start(lambda: answer_mention(ops, client, event), on_error=_logged, key=None)


def _switch(ops: Operations, dispatch: Dispatch, homes: HomeViewers, *, on: bool) -> Any:
    """DMs on or off, from the Home tab (no response URL there: the Home itself answers)."""

    async def pressed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user = str(body["user"]["id"])

        async def work() -> None:
            await switch_dms(ops, user=user, on=on)
            await homes.publish(user)

        dispatch.start(work, on_error=_logged, key=None)

    return pressed


async def answer_mention(ops: Operations, client: AsyncWebClient, event: dict[str, Any]) -> None:
    """`@Herald status webapp prod`: the status screen, in the mention's thread."""
    typed = _MENTION.sub("", str(event.get("text") or ""), count=1)
    thread = event.get("thread_ts") or event.get("ts")
    try:
        parsed = parse_command(typed, directory=ops.directory)
        if parsed.verb is not Verb.STATUS or parsed.service is None:
            raise CommandError("Mention me with `status <service> [env]`.")
        where = ops.directory.resolve(parsed.service, parsed.env)
    except (CommandError, UnknownTarget) as exc:
        said = render(exc.text)
        await client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=said)
        return
    report = await build_status(ops, where=where, actor=str(event.get("user") or "unknown"))
    message = views.status_message(report, public=True)
    await client.chat_postMessage(
        channel=event["channel"], thread_ts=thread, text=message["text"], blocks=message["blocks"]
    )


async def _logged(said: str) -> None:
    log.error("a Home tab or mention answer failed: %s", said)
