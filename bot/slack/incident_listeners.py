"""The incident message's controls in Slack: Hand over, Post update (a modal), Mark
recovered. Thin: parse into typed values, call one use case, render the answer."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations, Reply
from bot.domain.incident.command import RedCaution, hand_over, mark_recovered, post_update
from bot.domain.incident.model import FIELD_LIMIT, IncidentUpdate
from bot.slack import views
from bot.slack.ids import (
    INBOX_KEY,
    ActionId,
    CallbackId,
    HandOverValue,
    InvalidButtonValue,
    ReleaseValue,
)
from bot.slack.incident_view import UPDATE_FIELDS, red_caution_message, update_modal
from bot.slack.mrkdwn import render
from bot.slack.responses import Respond
from bot.slack.tasks import Dispatch

log = logging.getLogger(__name__)
Work = Coroutine[Any, Any, None]


def register_incident(app: AsyncApp, *, ops: Operations, dispatch: Dispatch) -> None:
    """Post update opens its modal at once (the trigger lasts 3 s); its submission is work."""

    @app.action(ActionId.POST_UPDATE.value)
    async def open_update(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            value = ReleaseValue.read(body)
        except InvalidButtonValue:
            log.warning("cannot open the update modal: the button's value is unreadable")
            return
        await client.views_open(trigger_id=body["trigger_id"], view=update_modal(value.release_id))

    @app.view(CallbackId.INCIDENT_UPDATE.value)
    async def submitted(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        dispatch.start(lambda: update_work(ops, body), on_error=_logged, key=context.get(INBOX_KEY))


def update_work(ops: Operations, body: dict[str, Any]) -> Work:
    """The work a submitted update modal owes: the update posted (said in the thread)."""
    view = body["view"]
    values = (view.get("state") or {}).get("values") or {}
    typed = {
        field: str(((values.get(field) or {}).get(field) or {}).get("value") or "")[:FIELD_LIMIT]
        for field, _ in UPDATE_FIELDS
    }
    update = IncidentUpdate(**{name: " ".join(text.split()) for name, text in typed.items()})
    release_id = str(view.get("private_metadata") or "")

    async def work() -> None:
        await post_update(ops, actor=body["user"]["id"], release_id=release_id, update=update)

    return work()


def press_hand_over(ops: Operations, value: HandOverValue, user: str, respond: Respond) -> Work:
    return _answer(hand_over(ops, actor=user, release_id=value.release_id, to=value.to), respond)


def press_recovered(ops: Operations, value: ReleaseValue, user: str, respond: Respond) -> Work:
    return _recovered(ops, value, user, respond, despite_red=False)


def press_recovered_anyway(
    ops: Operations, value: ReleaseValue, user: str, respond: Respond
) -> Work:
    return _recovered(ops, value, user, respond, despite_red=True)


async def _recovered(
    ops: Operations, value: ReleaseValue, user: str, respond: Respond, *, despite_red: bool
) -> None:
    done = await mark_recovered(
        ops, actor=user, release_id=value.release_id, despite_red=despite_red
    )
    if isinstance(done, RedCaution):
        await respond(red_caution_message(done.release_id, render(done.text)))
    else:
        await respond(views.reply_message(done, replace=despite_red))


async def _answer(work: Coroutine[Any, Any, Reply], respond: Respond) -> None:
    await respond(views.reply_message(await work))


async def _logged(said: str) -> None:
    log.error("an incident update failed: %s", said)
