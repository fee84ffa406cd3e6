"""Every Slack action, block and callback id Herald uses, in one place."""

from __future__ import annotations

from enum import StrEnum

INBOX_KEY = "herald_inbox_key"  # Bolt context: the inbox key of a request kept until done


class Command(StrEnum):
    DEPLOY = "/deploy"


class BlockId(StrEnum):
    HELP = "herald_help"
    STATUS = "herald_status"
    STATUS_ACTIONS = "herald_status_actions"
    ROLLBACK_CONFIRM = "herald_rollback_confirm"
    REPLY = "herald_reply"
    INCIDENT_ACTIONS = "herald_incident_actions"


class ActionId(StrEnum):
    PROMOTE_NEXT = "herald_promote_next"
    PAUSE = "herald_pause"
    ROLLBACK_START = "herald_rollback_start"
    ROLLBACK_CONFIRM = "herald_rollback_confirm"
    ROLLBACK_CANCEL = "herald_rollback_cancel"
    TAKE_COMMAND = "herald_take_command"
