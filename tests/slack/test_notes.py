"""Release notes as a Slack message: a huge release still fits Block Kit's limits."""

from __future__ import annotations

from typing import Any

from bot.domain.notes.release_notes import build_release_notes
from bot.domain.release.manifest import Manifest
from bot.examples import example_manifest
from bot.slack.notes import release_notes_message
from standins.slack_limits import validate_blocks


def manifest(*changes: dict[str, Any]) -> Manifest:
    return Manifest.model_validate({**example_manifest(), "changes": list(changes)})


def test_notes_of_a_huge_release_fit_one_slack_message() -> None:
    changes = [
        {"type": "feat" if n % 2 else "fix", "summary": f"change {n} " + "x" * 480}
        for n in range(1000)
    ]
    notes = build_release_notes(manifest(*changes), audience="internal")
    message = release_notes_message(notes)
    assert validate_blocks(message["blocks"]) == []
    assert len(message["blocks"]) == 50
    shown = sum(b["text"]["text"].count("\n• ") for b in message["blocks"][1:-1])
    last = message["blocks"][-1]["text"]["text"]
    assert last == f"…and {1000 - shown} more changes"
