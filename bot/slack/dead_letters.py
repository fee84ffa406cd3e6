"""The note Herald leaves in a release's thread when it gives up on one of its messages.

A dead letter is a post Herald stopped trying: Slack refused it for good, or it kept failing
for `HERALD_DELIVERY_GIVE_UP_SECONDS`. The note is queued behind it in the same channel, in
the release's thread there (top level when the dead message was that thread's root), in the
transaction that marks it dead, so it is queued once. A note that dies itself leaves no note:
a note about a note would be one loop away from a flood. An update of a keyed message leaves
none either: the next update tries again (architecture.md §4.3). A page PagerDuty never
took (rejected, or still failing at its deadline) is noted in the release's ops thread.
"""

from __future__ import annotations

from typing import Any

from bot.domain.text import Channel, Code, Emoji, Text, text, truncate
from bot.slack.layout import MAX_FALLBACK_CHARS, section
from bot.slack.mrkdwn import render
from bot.store.outbox import POST, Claim, Note

NOTE_SUFFIX = "_dead_letter"  # the note's role: `feed_dead_letter`, `ops_dead_letter`
NOTE_EVENT_TYPE = "herald_dead_letter"


def dead_letter_note(claim: Claim, *, error: str) -> Note | None:
    """The note saying `claim` will not be posted, or None when none is owed."""
    if claim.operation != POST or claim.role.endswith(NOTE_SUFFIX):
        return None
    thread_role = _thread_of(claim)
    words = _words(claim, error=error)
    role = f"{_prefix(thread_role or claim.role)}{NOTE_SUFFIX}"
    return Note(role=role, thread_role=thread_role, body=_body(claim, words))


def page_note(claim: Claim, *, error: str, ops_channel: str) -> Note | None:
    """The note saying a page (or its resolve) never reached PagerDuty, in the ops thread;
    None for a change event (it pages nobody) or with no ops channel."""
    action = claim.body.get("action")
    if action not in ("trigger", "resolve") or not ops_channel:
        return None
    what = "page" if action == "trigger" else "resolve of the page"
    words = text(Emoji("warning"), f" Could not send the {what} to PagerDuty: ", Code(error))
    words += ". Page the on-call by hand." if action == "trigger" else "."
    return Note(
        role=f"ops{NOTE_SUFFIX}",
        thread_role="ops_root",
        body=_body(claim, words),
        channel=ops_channel,
    )


def _body(claim: Claim, words: Text) -> dict[str, Any]:
    mrkdwn = render(words)
    return {
        "text": truncate(mrkdwn, MAX_FALLBACK_CHARS),
        "blocks": [section(mrkdwn)],
        "metadata": {
            "event_type": NOTE_EVENT_TYPE,
            "event_payload": {"id": claim.release_id, "dead_letter": claim.id},
        },
    }


def _words(claim: Claim, *, error: str) -> Text:
    what = Code(claim.event_type or claim.role)
    tries = "attempt" if claim.attempts == 1 else "attempts"
    said = text(
        Emoji("warning"),
        " Could not post the ",
        what,
        " message to ",
        Channel(claim.channel),
        f" after {claim.attempts} {tries}: ",
        Code(error),
        ".",
    )
    if claim.ambiguous:
        said += " It may have reached Slack: a try got no answer."
    return said


def _thread_of(claim: Claim) -> str | None:
    """The release's thread in the dead message's channel; None (top level) when the dead
    message was to open it, or no thread of Herald's is known there."""
    if claim.thread_role is not None:
        return claim.thread_role
    if claim.role.endswith("_root"):
        return None
    prefix = claim.role.split("_", 1)[0]
    return f"{prefix}_root" if prefix in ("feed", "ops") else None


def _prefix(role: str) -> str:
    """`feed` or `ops`: Herald's own roles start so, and no key may (model.py)."""
    prefix = role.split("_", 1)[0]
    return prefix if prefix in ("feed", "ops") else "feed"
