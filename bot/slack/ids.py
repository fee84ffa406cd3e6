"""Every Slack action, block and callback id Herald uses, in one place."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    DEPLOY = "/deploy"


class BlockId(StrEnum):
    HELP = "herald_help"
