"""The incident message's controls in Slack: Hand over, Post update (a modal), Mark
recovered. Thin: parse into typed values, call one use case, render the answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.deploy.context import Operations, Reply
from bot.domain.incident.command import (
    RedCaution,
    hand_over,
    link_fix,
    mark_recovered,
    post_update,
)
from bot.domain.incident.model import FIELD_LIMIT, IncidentUpdate
from bot.domain.incident.retro import record_retro
from bot.slack import views
from bot.slack.ids import (
    INBOX_KEY,
    ActionId,
    CallbackId,
    HandOverValue,
    InvalidButtonValue,
    ReleaseValue,
)
from bot.slack.incident_view import (
    UPDATE_FIELDS,
    fix_modal,
    red_caution_message,
    retro_modal,
    update_modal,
)
from bot.slack.mrkdwn import render
from bot.slack.responses import Respond
from bot.slack.tasks import Dispatch

log = logging.getLogger(__name__)
Work = Coroutine[Any, Any, None]


def register_incident(app: AsyncApp, *, ops: Operations, dispatch: Dispatch) -> None:
    """Post update and Fix forward open their modals at once (a trigger lasts 3 s); what is
    submitted is work, kept in the inbox like a command's."""
    modals = {
        ActionId.POST_UPDATE: update_modal,
        ActionId.FIX_FORWARD: fix_modal,
        ActionId.RETRO_DONE: retro_modal,
    }
    for action_id, modal in modals.items():
        app.action(action_id.value)(_opener(modal))
    works = {
        CallbackId.INCIDENT_UPDATE: update_work,
        CallbackId.INCIDENT_FIX: fix_work,
        CallbackId.INCIDENT_RETRO: retro_work,
    }
    for callback, work in works.items():
        app.view(callback.value)(_submitted(work, ops=ops, dispatch=dispatch))


def _opener(modal: Callable[[str], dict[str, Any]]) -> Any:
    async def open_modal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            value = ReleaseValue.read(body)
        except InvalidButtonValue:
            log.warning("cannot open a modal: the button's value is unreadable")
            return
        await client.views_open(trigger_id=body["trigger_id"], view=modal(value.release_id))

    return open_modal


def _submitted(
    work: Callable[[Operations, dict[str, Any]], Work], *, ops: Operations, dispatch: Dispatch
) -> Any:
    async def submitted(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        dispatch.start(lambda: work(ops, body), on_error=_logged, key=context.get(INBOX_KEY))

    return submitted


def submission_work(ops: Operations, body: dict[str, Any]) -> Work | None:
    """The work a submitted incident modal owes (None: not one of Herald's)."""
    callback = (body.get("view") or {}).get("callback_id")
    if callback == CallbackId.INCIDENT_UPDATE:
        return update_work(ops, body)
    if callback == CallbackId.INCIDENT_FIX:
        return fix_work(ops, body)
    if callback == CallbackId.INCIDENT_RETRO:
        return retro_work(ops, body)
    return None


def retro_work(ops: Operations, body: dict[str, Any]) -> Work:
    """The work a submitted retro modal owes: the write-up linked (said in the thread)."""
    link = _typed(body, ActionId.RETRO_LINK)
    release_id = str(body["view"].get("private_metadata") or "")

    async def work() -> None:
        await record_retro(ops, actor=body["user"]["id"], release_id=release_id, link=link)

    return work()


def _typed(body: dict[str, Any], field: str) -> str:
    """What was typed in the modal's `field` input (its block and action share the id)."""
    values = (body["view"].get("state") or {}).get("values") or {}
    return str(((values.get(field) or {}).get(field) or {}).get("value") or "")[:2000]


def fix_work(ops: Operations, body: dict[str, Any]) -> Work:
    """The work a submitted fix-forward modal owes: the fix linked (said in the thread)."""
    fix = _typed(body, ActionId.FIX)
    release_id = str(body["view"].get("private_metadata") or "")

    async def work() -> None:
        await link_fix(ops, actor=body["user"]["id"], release_id=release_id, fix=fix[:128])

    return work()


def update_work(ops: Operations, body: dict[str, Any]) -> Work:
    """The work a submitted update modal owes: the update posted (said in the thread)."""
    typed = {field: _typed(body, field)[:FIELD_LIMIT] for field, _ in UPDATE_FIELDS}
    update = IncidentUpdate(**{name: " ".join(text.split()) for name, text in typed.items()})
    release_id = str(body["view"].get("private_metadata") or "")

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
