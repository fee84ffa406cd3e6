"""The incident message's actions, its state line, and the update modal (pure Block Kit)."""

from __future__ import annotations

from typing import Any

from bot.domain.incident.card import IncidentCard
from bot.domain.incident.model import FIELD_LIMIT
from bot.domain.text import format_duration
from bot.slack.ids import (
    ActionId,
    CallbackId,
    ReleaseValue,
    incident_actions_block,
)
from bot.slack.layout import Block, button, section
from bot.slack.mrkdwn import escape_mrkdwn

# the modal's inputs: (block and action id, label), in the order they are shown
UPDATE_FIELDS = (
    ("symptom", "Symptom"),
    ("blast_radius", "Blast radius"),
    ("flag_state", "Flag state"),
    ("next_action", "Next action"),
    ("eta", "ETA"),
)


def state_line(card: IncidentCard) -> str:
    """`- State: release.failed · 12m since it failed · 2 updates`."""
    state = card.state.removeprefix("release.").replace("_", " ")
    since = format_duration(card.elapsed_seconds)
    parts = [f"- State: {state}", f"{since} since it failed"]
    if card.updates:
        parts.append(f"{card.updates} update{'s' if card.updates > 1 else ''}")
    if card.verdict:
        parts.append(f"last checkup {escape_mrkdwn(card.verdict)}")
    return " · ".join(parts)


def incident_actions(release_id: str, *, commanded: bool) -> Block:
    """Take command (while nobody has), Hand over, Post update, Mark recovered."""
    value = ReleaseValue(release_id=release_id).dump()
    elements: list[Block] = []
    if not commanded:
        elements.append(button("Take command", ActionId.TAKE_COMMAND, value, style="primary"))
    elements.append(
        {
            "type": "users_select",
            "action_id": ActionId.HAND_OVER,
            "placeholder": {"type": "plain_text", "text": "Hand over to…"},
        }
    )
    elements.append(button("Post update", ActionId.POST_UPDATE, value))
    recovered = button("Mark recovered", ActionId.MARK_RECOVERED, value)
    recovered["confirm"] = {
        "title": {"type": "plain_text", "text": "Mark recovered?"},
        "text": {"type": "mrkdwn", "text": "Records release.recovered and resolves the page."},
        "confirm": {"type": "plain_text", "text": "Recovered"},
        "deny": {"type": "plain_text", "text": "Not yet"},
    }
    elements.append(recovered)
    elements.append(button("Fix forward", ActionId.FIX_FORWARD, value))
    return {"type": "actions", "block_id": incident_actions_block(release_id), "elements": elements}


def update_modal(release_id: str) -> dict[str, Any]:
    """Post update: every field optional; what is left empty keeps its last value."""
    inputs = [
        _text_input(field, label, max_length=FIELD_LIMIT, optional=True)
        for field, label in UPDATE_FIELDS
    ]
    intro = section(f"The incident of `{escape_mrkdwn(release_id)}`.")
    return _modal(
        CallbackId.INCIDENT_UPDATE, release_id, "Incident update", "Post", [intro, *inputs]
    )


def fix_modal(release_id: str) -> dict[str, Any]:
    """Fix forward: the release (id or version) that will fix this one."""
    intro = section(
        f"When this release deploys, `{escape_mrkdwn(release_id)}` is marked recovered."
    )
    field = _text_input(ActionId.FIX, "Release id or version", max_length=128)
    return _modal(CallbackId.INCIDENT_FIX, release_id, "Fix forward", "Link", [intro, field])


def retro_button(release_id: str) -> Block:
    value = ReleaseValue(release_id=release_id).dump()
    done = button("Retro done", ActionId.RETRO_DONE, value, style="primary")
    return {"type": "actions", "elements": [done]}


def retro_modal(release_id: str) -> dict[str, Any]:
    """Retro done: the link to its write-up."""
    field = _text_input(ActionId.RETRO_LINK, "Link to the write-up", kind="url_text_input")
    return _modal(CallbackId.INCIDENT_RETRO, release_id, "Retro done", "Record", [field])


def _modal(
    callback: CallbackId, release_id: str, title: str, submit: str, blocks: list[Block]
) -> dict[str, Any]:
    """A modal about one release, which its submission names in `private_metadata`."""
    return {
        "type": "modal",
        "callback_id": callback,
        "private_metadata": release_id,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _text_input(
    field: str,
    label: str,
    *,
    kind: str = "plain_text_input",
    max_length: int | None = None,
    optional: bool = False,
) -> Block:
    """An input whose block and action share the id `field` (how the submission is read)."""
    element: Block = {"type": kind, "action_id": field}
    if max_length is not None:
        element["max_length"] = max_length
    block: Block = {
        "type": "input",
        "block_id": field,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if optional:
        block["optional"] = True
    return block


def red_caution_message(release_id: str, said: str) -> dict[str, Any]:
    """Herald's checks say red: asked again, with a button that marks it recovered anyway."""
    value = ReleaseValue(release_id=release_id).dump()
    anyway = button("Mark recovered anyway", ActionId.MARK_RECOVERED_ANYWAY, value, style="danger")
    return {
        "response_type": "ephemeral",
        "text": said,
        "blocks": [section(said), {"type": "actions", "elements": [anyway]}],
    }
