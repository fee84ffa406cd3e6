"""Pure builders for what `/deploy` answers with."""

from __future__ import annotations

from typing import Any

from bot.domain.text import escape_mrkdwn
from bot.slack.ids import BlockId

USAGE = (
    "`/deploy status [service] [env]` · `/deploy pause <service> [env]` · "
    "`/deploy promote <service> [env] [NN%|full]` · "
    "`/deploy rollback <service> [env] [version|sha]` · `/deploy help`"
)


def help_message(services: list[str]) -> dict[str, Any]:
    known = ", ".join(escape_mrkdwn(s) for s in services) or "none configured yet (HERALD_CONFIG)"
    text = f"*Herald* — release commands\n{USAGE}\nKnown services: {known}"
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            {"type": "section", "block_id": BlockId.HELP, "text": {"type": "mrkdwn", "text": text}}
        ],
    }
