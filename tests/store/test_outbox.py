"""Outbox claims: per channel in order, one claimant per message, ambiguity never lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.domain.release.lifecycle import EventType
from bot.store import outbox
from bot.store.outbox import Claim
from bot.store.queries import get_release_detail
from bot.store.tables import OutboxRow
from tests.store.support import FEED, OPS, Store, advance, count, is_utc, manifest, register

LEASE = timedelta(seconds=30)


async def claim(store: Store, channel: str = FEED) -> Claim | None:
    return await outbox.claim_next(
        database=store.database, channel=channel, now=store.clock(), lease=LEASE
    )


async def must_claim(store: Store, channel: str = FEED) -> Claim:
    claimed = await claim(store, channel)
    assert claimed is not None
    return claimed


async def test_claims_the_oldest_message_and_keeps_the_channel_in_order(store: Store) -> None:
    release_id = (await register(store)).release.id  # the feed root, then its thread details
    assert await outbox.list_open_channels(database=store.database) == [FEED]

    first = await must_claim(store)
    assert (first.release_id, first.role, first.thread_role) == (release_id, "feed_root", None)
    assert first.event_type == EventType.PLANNED and first.attempts == 1 and not first.ambiguous
    assert is_utc(first.created_at)
    assert first.body["text"]
    assert await claim(store) is None, "the head is being sent: nothing else may overtake it"

    await outbox.mark_waiting(
        database=store.database,
        claim=first,
        at=store.clock() + timedelta(seconds=10),
        reason="rate limited",
    )
    assert await claim(store) is None, "the head waits out its retry: the details wait too"
    store.clock.advance(10)
    again = await must_claim(store)
    assert (again.id, again.attempts) == (first.id, 1), "a wait is no failed attempt"


async def test_channels_do_not_wait_for_each_other(store: Store) -> None:
    release_id = (await register(store)).release.id
    head = await must_claim(store)
    await outbox.mark_waiting(
        database=store.database,
        claim=head,
        at=store.clock() + timedelta(hours=1),
        reason="rate limited",
    )
    await advance(store, release_id, EventType.STARTED, EventType.FAILED)
    incident = await must_claim(store, OPS)
    assert (incident.role, incident.event_type) == ("ops_root", EventType.FAILED)
    assert await claim(store, FEED) is None


async def test_one_message_is_claimed_once_by_concurrent_workers(store: Store) -> None:
    await register(store)
    claims = await asyncio.gather(*(claim(store) for _ in range(8)))
    won = [c for c in claims if c is not None]
    assert len(won) == 1
    assert won[0].attempts == 1
    assert await count(store.database, OutboxRow, state="sending") == 1


async def test_expired_lease_is_claimed_again_as_ambiguous(store: Store) -> None:
    await register(store)
    first = await must_claim(store)
    store.clock.advance(LEASE.total_seconds() - 1)
    assert await claim(store) is None, "the lease still holds"
    store.clock.advance(2)
    again = await must_claim(store)
    assert (again.id, again.attempts, again.ambiguous) == (first.id, 2, True)

    # ambiguity sticks through a later, unambiguous failure (it may have been posted)
    await outbox.mark_waiting(database=store.database, claim=again, at=store.clock(), reason="429")
    assert (await must_claim(store)).ambiguous


async def test_rate_limited_retry_is_not_ambiguous(store: Store) -> None:
    await register(store)
    first = await must_claim(store)
    await outbox.mark_waiting(
        database=store.database,
        claim=first,
        at=store.clock() + timedelta(seconds=1),
        reason="rate limited",
    )
    store.clock.advance(1)
    again = await must_claim(store)
    assert (again.id, again.attempts, again.ambiguous) == (first.id, 1, False)
    assert again.failing_since is None, "a 429 is no failure"


async def test_timeout_retry_is_ambiguous(store: Store) -> None:
    await register(store)
    first = await must_claim(store)
    failed_at = store.clock()
    await outbox.mark_retry(
        database=store.database,
        claim=first,
        at=store.clock(),
        error="timeout",
        ambiguous=True,
        now=failed_at,
    )
    again = await must_claim(store)
    assert (again.id, again.ambiguous, again.attempts) == (first.id, True, 2)
    assert again.failing_since == failed_at


async def test_sent_message_is_recorded_and_opens_the_thread(store: Store) -> None:
    release_id = (await register(store)).release.id
    root = await must_claim(store)
    assert await outbox.root_is_coming(
        database=store.database, release_id=release_id, role="feed_root"
    )
    assert (
        await outbox.find_thread_root(
            database=store.database, release_id=release_id, role="feed_root"
        )
        is None
    )

    await outbox.mark_sent(
        database=store.database,
        claim=root,
        ts="1759436400.000100",
        thread_ts=None,
        now=store.clock(),
    )
    assert (
        await outbox.find_thread_root(
            database=store.database, release_id=release_id, role="feed_root"
        )
        == "1759436400.000100"
    )
    assert not await outbox.root_is_coming(
        database=store.database, release_id=release_id, role="feed_root"
    )
    details = await must_claim(store)
    assert (details.role, details.thread_role) == ("feed_thread_details", "feed_root")
    await outbox.mark_sent(
        database=store.database,
        claim=details,
        ts="1759436401.000200",
        thread_ts="1759436400.000100",
        now=store.clock(),
    )

    detail = await get_release_detail(database=store.database, release_id=release_id)
    assert detail is not None and detail["messages_pending"] == 0
    assert [(m["channel"], m["ts"], m["thread_ts"], m["role"]) for m in detail["messages"]] == [
        (FEED, "1759436400.000100", None, "feed_root"),
        (FEED, "1759436401.000200", "1759436400.000100", "feed_thread_details"),
    ]
    assert await outbox.count_open(database=store.database) == 0
    assert await outbox.list_open_channels(database=store.database) == []
    assert await claim(store) is None


async def test_stale_claims_become_ambiguous_pending_on_start(store: Store) -> None:
    await register(store)
    first = await must_claim(store)
    assert await outbox.release_stale_claims(database=store.database) == 1
    assert await outbox.release_stale_claims(database=store.database) == 0
    assert await count(store.database, OutboxRow, state="sending") == 0
    again = await must_claim(store)  # due at once: no need to wait out the old lease
    assert (again.id, again.ambiguous, again.attempts) == (first.id, True, 2)


async def test_dead_message_stops_blocking_the_channel(store: Store) -> None:
    await register(store)
    root = await must_claim(store)
    await outbox.mark_dead(
        database=store.database, claim=root, error="channel_not_found", now=store.clock()
    )
    assert await outbox.count_open(database=store.database) == 1
    details = await must_claim(store)
    assert details.id > root.id and details.role == "feed_thread_details"
    assert await count(store.database, OutboxRow, state="dead") == 1


async def test_outcome_of_a_lost_claim_does_not_undo_the_new_claimants_post(store: Store) -> None:
    """A worker whose lease ran out (another worker re-claimed and posted) reports late."""
    await register(store)
    slow = await must_claim(store)
    store.clock.advance(LEASE.total_seconds() + 1)
    fresh = await must_claim(store)
    assert fresh.id == slow.id and fresh.attempts == slow.attempts + 1
    await outbox.mark_sent(
        database=store.database,
        claim=fresh,
        ts="1759436400.000100",
        thread_ts=None,
        now=store.clock(),
    )

    await outbox.mark_retry(
        database=store.database,
        claim=slow,
        at=store.clock(),
        error="timeout",
        ambiguous=True,
        now=store.clock(),
    )
    assert not await outbox.mark_dead(
        database=store.database, claim=slow, error="msg_too_long", now=store.clock()
    )
    await outbox.mark_sent(
        database=store.database,
        claim=slow,
        ts="1759436401.000200",
        thread_ts=None,
        now=store.clock(),
    )

    assert await count(store.database, OutboxRow, id=slow.id, state="sent") == 1
    assert (await must_claim(store)).role == "feed_thread_details", "the root is not sent twice"
    assert (
        await outbox.find_thread_root(
            database=store.database, release_id=slow.release_id, role="feed_root"
        )
        == "1759436400.000100"
    )


async def send_everything(store: Store, channel: str = FEED) -> None:
    while (claimed := await claim(store, channel)) is not None:
        await outbox.mark_sent(
            database=store.database,
            claim=claimed,
            ts=f"1759436400.{claimed.id:06d}",
            thread_ts=None,
            now=store.clock(),
        )


async def test_a_failure_goes_ahead_of_other_releases_queued_messages(store: Store) -> None:
    failing = (await register(store, manifest(id="rel-failing"))).release.id
    await advance(store, failing, EventType.STARTED, EventType.DEPLOYED)
    await send_everything(store)
    queued = (await register(store, manifest(id="rel-queued"))).release.id
    await advance(store, queued, EventType.STARTED)
    await advance(store, failing, EventType.FAILED)

    order = []
    while (claimed := await claim(store)) is not None:
        order.append((claimed.release_id, claimed.event_type, claimed.role))
        ts = f"1759436500.{claimed.id:06d}"
        await outbox.mark_sent(
            database=store.database, claim=claimed, ts=ts, thread_ts=None, now=store.clock()
        )
    assert order[0] == (failing, EventType.FAILED, "feed_event")
    theirs = [(event, role) for release, event, role in order[1:] if release == queued]
    assert theirs[0] == (EventType.PLANNED, "feed_root"), "then the oldest, in order"
    assert theirs[-1][0] == EventType.STARTED


async def test_a_release_s_own_failure_never_overtakes_its_earlier_messages(
    store: Store,
) -> None:
    release_id = (await register(store)).release.id
    await advance(store, release_id, EventType.STARTED, EventType.DEPLOYED, EventType.FAILED)
    first = await must_claim(store)
    assert (first.role, first.event_type) == ("feed_root", EventType.PLANNED)
