"""Where the note about a dead letter goes, and when none is owed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slack.dead_letters import dead_letter_note, page_note
from bot.store.outbox import POST, UPDATE, Claim

T0 = datetime(2025, 10, 2, 20, 30, tzinfo=UTC)


def claim(
    role: str, thread_role: str | None = None, *, operation: str = POST, ambiguous: bool = False
) -> Claim:
    return Claim(
        id=7,
        release_id="rel-1",
        channel="CFEED",
        role=role,
        thread_role=thread_role,
        operation=operation,
        event_type="release.started" if role == "feed_event" else None,
        body={"text": "x"},
        attempts=3,
        ambiguous=ambiguous,
        created_at=T0,
    )


@pytest.mark.parametrize(
    ("dead", "role", "thread_role"),
    [
        (claim("feed_event"), "feed_dead_letter", "feed_root"),  # into the release's thread
        (claim("ops_thread_note", "ops_root"), "ops_dead_letter", "ops_root"),  # the same thread
        (claim("ops_root"), "ops_dead_letter", None),  # the thread never opened: top level
        (claim("watch", "feed_root"), "feed_dead_letter", "feed_root"),  # a keyed post
    ],
)
def test_the_note_goes_to_the_release_thread_of_the_dead_messages_channel(
    dead: Claim, role: str, thread_role: str | None
) -> None:
    note = dead_letter_note(dead, error="internal_error")
    assert note is not None and (note.role, note.thread_role) == (role, thread_role)
    assert note.body["metadata"]["event_type"] == "herald_dead_letter"


def test_the_note_names_the_message_the_channel_and_the_error_escaped() -> None:
    note = dead_letter_note(claim("feed_event", ambiguous=True), error="<!channel> down")
    assert note is not None
    assert note.body["text"] == (
        ":warning: Could not post the `release.started` message to <#CFEED> after 3 attempts: "
        "`&lt;!channel&gt; down`. It may have reached Slack: a try got no answer."
    )


@pytest.mark.parametrize(
    "dead",
    [claim("feed_dead_letter", "feed_root"), claim("watch", operation=UPDATE)],
    ids=["a note about a note", "an edit"],
)
def test_no_note_is_owed_for_a_dead_note_or_a_dead_edit(dead: Claim) -> None:
    assert dead_letter_note(dead, error="internal_error") is None


def test_a_dead_page_is_noted_in_the_ops_thread_but_a_change_event_is_not() -> None:
    def page(action: str) -> Claim:
        return Claim(
            id=9,
            release_id="rel-1",
            channel="pagerduty",
            role="page_trigger",
            thread_role=None,
            operation=POST,
            event_type=None,
            body={"action": action},
            attempts=1,
            ambiguous=False,
            created_at=T0,
        )

    note = page_note(page("resolve"), error="gave_up", ops_channel="COPS")
    assert note is not None
    assert (note.channel, note.role, note.thread_role) == ("COPS", "ops_dead_letter", "ops_root")
    assert (
        note.body["text"]
        == ":warning: Could not send the resolve of the page to PagerDuty: `gave_up`."
    )
    assert page_note(page("change"), error="ambiguous", ops_channel="COPS") is None
    assert page_note(page("trigger"), error="rejected", ops_channel="") is None
