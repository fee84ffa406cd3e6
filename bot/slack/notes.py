"""Release notes in Slack mrkdwn: as one string (a thread reply, `herald notes --format
slack`), or as Block Kit sections within Slack's limits. Every piece of manifest text is
escaped. No I/O."""

from __future__ import annotations

from typing import Any

from bot.domain.notes.release_notes import Entry, ReleaseNotes
from bot.slack.layout import MAX_MESSAGE_BLOCKS, pack_sections, section
from bot.slack.mrkdwn import escape_mrkdwn


def render_notes_mrkdwn(notes: ReleaseNotes) -> str:
    """The notes as one mrkdwn string (all data escaped)."""
    parts = [_heading(notes)]
    parts += ["\n".join([heading, *lines]) for heading, lines in _groups(notes)]
    parts += [trailer] if (trailer := _trailer(notes)) else []
    return "\n\n".join(parts)


def release_notes_message(notes: ReleaseNotes) -> dict[str, Any]:
    """`{"text", "blocks"}` for chat.postMessage, within Block Kit's limits."""
    head = "\n".join(filter(None, [_heading(notes), _trailer(notes)]))
    blocks = [section(head)]
    blocks += pack_sections(_groups(notes), max_blocks=MAX_MESSAGE_BLOCKS - 1, noun="change")
    return {"text": f"Release notes: {escape_mrkdwn(notes.title)}", "blocks": blocks}


def _entry_line(entry: Entry, *, internal: bool) -> str:
    text = escape_mrkdwn(entry.summary)
    if entry.scope:
        text = f"{escape_mrkdwn(entry.scope)}: {text}"
    if entry.breaking:
        text = f":warning: *Breaking:* {text}"
    if entry.issues:
        text += f" ({', '.join(escape_mrkdwn(issue) for issue in entry.issues)})"
    line = f"• {text}"
    if entry.breaking and entry.migration:
        line += f"\n    Migration: {escape_mrkdwn(entry.migration)}"
    elif entry.breaking and internal:
        line += "\n    Migration: no migration note in the manifest"
    return line


def _heading(notes: ReleaseNotes) -> str:
    heading = f"*Release notes: {escape_mrkdwn(notes.title)}*"
    if notes.audience == "internal":
        heading += f" · {escape_mrkdwn(notes.release_id)}"
    if notes.breaking:
        count = len(notes.breaking)
        heading += f"\n:warning: {count} breaking change{'s' if count != 1 else ''}"
    return heading


def _groups(notes: ReleaseNotes) -> list[tuple[str, list[str]]]:
    internal = notes.audience == "internal"
    groups: list[tuple[str, list[str]]] = []
    if notes.highlights:
        groups.append(("*Highlights*", [f"• {escape_mrkdwn(t)}" for t in notes.highlights]))
    for kind, entries in notes.sections:
        lines = [_entry_line(entry, internal=internal) for entry in entries]
        groups.append((f"*{kind.value}*", lines))
    return groups


def _trailer(notes: ReleaseNotes) -> str:
    if notes.is_empty:
        return notes.empty_text
    if notes.flags:
        return "*Behind flags:* " + ", ".join(escape_mrkdwn(flag) for flag in notes.flags)
    return ""
