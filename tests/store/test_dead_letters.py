"""Dead letters: given up on once, the note about them queued once, listed for operators."""

from __future__ import annotations

from datetime import timedelta

from bot.store import outbox
from bot.store.dead_letters import list_dead_letters
from bot.store.outbox import Claim, Note
from bot.store.queries import get_release_detail
from tests.store.support import FEED, Store, register

LEASE = timedelta(seconds=30)
NOTE = Note(role="feed_dead_letter", thread_role="feed_root", body={"text": "could not post"})


async def must_claim(store: Store) -> Claim:
    claimed = await outbox.claim_next(
        database=store.database, channel=FEED, now=store.clock(), lease=LEASE
    )
    assert claimed is not None
    return claimed


async def test_a_dead_letter_queues_its_note_behind_it_once(store: Store) -> None:
    release_id = (await register(store)).release.id  # the feed root, then its details
    root = await must_claim(store)
    assert await outbox.mark_dead(
        database=store.database, claim=root, error="internal_error", now=store.clock(), note=NOTE
    )
    assert not await outbox.mark_dead(  # a second give-up of the same claim changes nothing
        database=store.database, claim=root, error="internal_error", now=store.clock(), note=NOTE
    )

    details = await must_claim(store)
    assert details.role == "feed_thread_details", "the channel moves on, in order"
    await outbox.mark_sent(
        database=store.database, claim=details, ts="1.000100", thread_ts=None, now=store.clock()
    )
    note = await must_claim(store)
    assert (note.role, note.thread_role, note.body) == (
        "feed_dead_letter",
        "feed_root",
        NOTE.body,
    )
    assert note.release_id == release_id
    await outbox.mark_sent(
        database=store.database, claim=note, ts="1.000200", thread_ts=None, now=store.clock()
    )
    assert await outbox.count_open(database=store.database) == 0


async def test_dead_letters_are_listed_newest_first_and_in_the_release_detail(
    store: Store,
) -> None:
    release_id = (await register(store)).release.id
    root = await must_claim(store)
    failed_at = store.clock()
    await outbox.mark_retry(
        database=store.database,
        claim=root,
        at=store.clock(),
        error="internal_error",
        ambiguous=True,
        now=failed_at,
    )
    store.clock.advance(600)
    again = await must_claim(store)
    await outbox.mark_dead(
        database=store.database, claim=again, error="internal_error", now=store.clock()
    )
    details = await must_claim(store)
    await outbox.mark_dead(
        database=store.database, claim=details, error="msg_too_long", now=store.clock()
    )

    letters = await list_dead_letters(database=store.database, limit=10)
    assert [(d["role"], d["attempts"], d["error"]) for d in letters] == [
        ("feed_thread_details", 1, "msg_too_long"),
        ("feed_root", 2, "internal_error"),
    ]
    root_letter = letters[1]
    assert root_letter["failing_since"] == failed_at.isoformat()
    assert root_letter["dead_at"] == store.clock().isoformat()
    assert root_letter["ambiguous"] and root_letter["sink"] == "slack"
    assert await list_dead_letters(database=store.database, limit=1) == letters[:1]
    assert await list_dead_letters(database=store.database, limit=10, sink="pagerduty") == []
    assert await list_dead_letters(database=store.database, limit=10, release_id="other") == []

    detail = await get_release_detail(database=store.database, release_id=release_id)
    assert detail is not None and detail["dead_letters"] == letters
