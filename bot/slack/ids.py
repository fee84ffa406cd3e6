"""Every Slack action, block and callback id Herald uses, and what its buttons carry."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.domain.deploy.parse import PromoteGoal, PromoteKind
from bot.domain.deploy.rollback import RollbackPlan
from bot.domain.text import text
from bot.errors import MalformedRequest
from bot.slack.mrkdwn import render

INBOX_KEY = "herald_inbox_key"  # Bolt context: the inbox key of a request kept until done


class Command(StrEnum):
    DEPLOY = "/deploy"


class CallbackId(StrEnum):
    """Modals Herald opens; their submissions come back under these."""

    INCIDENT_UPDATE = "herald_incident_update"
    INCIDENT_FIX = "herald_incident_fix"
    INCIDENT_RETRO = "herald_incident_retro"


class BlockId(StrEnum):
    HELP = "herald_help"
    STATUS = "herald_status"
    STATUS_ACTIONS = "herald_status_actions"
    PROMOTE_CAUTION = "herald_promote_caution"
    ROLLBACK_CONFIRM = "herald_rollback_confirm"
    REPLY = "herald_reply"
    INCIDENT_ACTIONS = "herald_incident_actions"
    APPROVAL_ACTIONS = "herald_approval_actions"
    APPROVAL_REASON = "herald_approval_reason"  # the input block Reject reads its reason from


class ActionId(StrEnum):
    PROMOTE_NEXT = "herald_promote_next"
    PROMOTE_ANYWAY = "herald_promote_anyway"
    PAUSE = "herald_pause"
    ROLLBACK_START = "herald_rollback_start"
    ROLLBACK_CONFIRM = "herald_rollback_confirm"
    ROLLBACK_CANCEL = "herald_rollback_cancel"
    TAKE_COMMAND = "herald_take_command"
    APPROVE = "herald_approve"
    REJECT = "herald_reject"
    REASON = "herald_reason"  # the reason input of an approval request
    HAND_OVER = "herald_hand_over"  # a users_select on the incident message
    POST_UPDATE = "herald_post_update"  # opens the incident update modal
    MARK_RECOVERED = "herald_mark_recovered"
    MARK_RECOVERED_ANYWAY = "herald_mark_recovered_anyway"  # while Herald's checks say red
    FIX_FORWARD = "herald_fix_forward"  # opens the fix-forward modal
    FIX = "herald_fix"  # the fix-forward modal's input
    RETRO_DONE = "herald_retro_done"  # opens the retro modal
    RETRO_LINK = "herald_retro_link"  # the retro modal's input
    DMS_ON = "herald_dms_on"  # the Home tab: DM me about my releases
    DMS_OFF = "herald_dms_off"


class InvalidButtonValue(MalformedRequest):
    """A button's value Herald cannot read: not what Herald puts on that button."""

    def __init__(self, value_type: str) -> None:
        super().__init__(
            ":warning: Herald cannot read this button (its message may be from an older "
            "Herald). Run the command again for fresh buttons."
        )
        self.value_type = value_type


class ButtonValue(BaseModel):
    """What a button carries in its `value`, read back when it is pressed.

    `dump()` writes the wire form and `parse()` reads it: a value that is not one is an
    `InvalidButtonValue`. The wire forms never change, so buttons already posted keep working.
    """

    model_config = ConfigDict(frozen=True)

    def dump(self) -> str:
        return json.dumps(self.model_dump(mode="json"))

    @classmethod
    def parse(cls, raw: str) -> Self:
        try:
            return cls._load(raw)
        except ValidationError:
            raise InvalidButtonValue(cls.__name__) from None

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        """The value of the pressed button in a `block_actions` payload."""
        return cls.parse(body["actions"][0]["value"])

    @classmethod
    def _load(cls, raw: str) -> Self:
        return cls.model_validate_json(raw)


class TargetValue(ButtonValue):
    """Pause, Roll back…: `{"service": "webapp", "env": "prod"}`."""

    service: str
    env: str


class PromoteValue(TargetValue):
    """Promote next step, or Promote anyway: the target plus the rollout generation the user
    saw (`seen`), so a second click on the same message learns who promoted instead of
    promoting again, and how far (`kind`, `weight`: next step unless said)."""

    seen: str | None = None
    kind: PromoteKind = PromoteKind.NEXT
    weight: int | None = Field(default=None, ge=1, le=100)

    @property
    def goal(self) -> PromoteGoal:
        return PromoteGoal(self.kind, self.weight)

    def dump(self) -> str:
        """Next step leaves `kind` and `weight` out: the form Promote next step always had."""
        data = self.model_dump(mode="json")
        if self.kind is PromoteKind.NEXT:
            del data["kind"]
        if self.weight is None:
            del data["weight"]
        return json.dumps(data)


class RollbackValue(ButtonValue):
    """Roll back (confirmed): the plan that was shown, as the domain encodes it, with its
    summary as the mrkdwn the user saw. The summary read back is that string, kept as is."""

    plan: RollbackPlan

    def dump(self) -> str:
        return self.plan.encode(summary=render)

    @classmethod
    def _load(cls, raw: str) -> Self:
        data = _OBJECT.validate_json(raw)
        if isinstance(summary := data.get("summary"), str):
            data["summary"] = text(summary)
        return cls(plan=_PLAN.validate_python(data))


class ReleaseValue(ButtonValue):
    """Take command, Approve, Reject: the bare release id, `rel-2025-10-02.3`."""

    release_id: str = Field(min_length=1)

    def dump(self) -> str:
        return self.release_id

    @classmethod
    def _load(cls, raw: str) -> Self:
        return cls(release_id=raw)


class VoteValue(ReleaseValue):
    """Approve, Reject: the release id on the button, and what the approver typed in the
    request's reason box (Slack sends the message's inputs with every button press)."""

    reason: str = Field(default="", max_length=500)

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        value = cls.parse(body["actions"][0]["value"])
        values = (body.get("state") or {}).get("values") or {}
        typed = (values.get(BlockId.APPROVAL_REASON) or {}).get(ActionId.REASON) or {}
        return value.model_copy(update={"reason": str(typed.get("value") or "")[:500]})


class HandOverValue(ButtonValue):
    """Hand over: the release the incident message's actions block names (its block id,
    `herald_incident_actions.rel-2`: a users_select carries no value) and the user picked."""

    release_id: str = Field(min_length=1)
    to: str = Field(pattern=r"^[UW][A-Z0-9]{2,}$")

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        action = body["actions"][0]
        block = str(action.get("block_id", ""))
        prefix = f"{BlockId.INCIDENT_ACTIONS}."
        release_id = block.removeprefix(prefix) if block.startswith(prefix) else ""
        try:
            return cls(release_id=release_id, to=str(action.get("selected_user") or ""))
        except ValidationError:
            raise InvalidButtonValue(cls.__name__) from None


def incident_actions_block(release_id: str) -> str:
    """The block id of a release's incident actions, which Hand over reads back."""
    return f"{BlockId.INCIDENT_ACTIONS}.{release_id}"


class CancelValue(ButtonValue):
    """Cancel: the constant `cancel`; nothing to read."""

    def dump(self) -> str:
        return "cancel"

    @classmethod
    def _load(cls, raw: str) -> Self:
        return cls()


_OBJECT = TypeAdapter(dict[str, Any])
_PLAN = TypeAdapter(RollbackPlan)
