"""The feed message that a freeze window begins or ends (pure Block Kit)."""

from __future__ import annotations

from typing import Any

from bot.domain.freeze.window import Occurrence
from bot.slack.layout import section
from bot.slack.mrkdwn import escape_mrkdwn, local_time


def freeze_message(freeze: Occurrence, boundary: str, late: str | None) -> dict[str, Any]:
    """`:snowflake: Freeze end-of-year begins: …` with whom it holds and until when."""
    who = escape_mrkdwn(freeze.scope.describe())
    name, reason = escape_mrkdwn(freeze.name), escape_mrkdwn(freeze.reason)
    if boundary == "begins":
        head = f":snowflake: *Freeze {name} begins* — {reason}"
        until = local_time(freeze.end)
        body = f"Holds {who} until {until}. Promote waits; pause and rollback never do."
        plain = f"Freeze {freeze.name} begins: {freeze.reason}. Holds {freeze.scope.describe()}."
    else:
        head = f":sunny: *Freeze {name} ended* — {who} may ship again"
        body = f"It held since {local_time(freeze.start)}: {reason}"
        plain = f"Freeze {freeze.name} ended: {freeze.scope.describe()} may ship again."
    lines = [head, body] + ([f"_{escape_mrkdwn(late)}_"] if late else [])
    return {"text": plain, "blocks": [section("\n".join(lines))]}
