"""Keyed messages in the outbox: posted under their key, updated in place, only the newest
pending update kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, func
from sqlmodel import col, select

from bot.domain.release.model import Audience, Notice, NoticeKind
from bot.domain.text import text
from bot.store import outbox
from bot.store.keyed_messages import PostedMessage, find_keyed_message, keyed_post_is_coming
from bot.store.metrics_snapshot import take_snapshot
from bot.store.outbox import Claim
from bot.store.tables import OutboxRow
from tests.store.support import FEED, Store, count, manifest, register

LEASE = timedelta(seconds=30)


async def say(
    store: Store,
    release_id: str,
    *notices: tuple[str, str, bool],
    audience: Audience = Audience.FEED_THREAD,
) -> None:
    """Enqueue (key, words, replaces) notices for `audience`, in one transaction."""
    async with store.ledgers() as ledger:
        release = await ledger.get_release(release_id)
        assert release is not None
        await ledger.enqueue(
            [
                Notice(
                    NoticeKind.NOTE,
                    audience,
                    release,
                    None,
                    text=text(words),
                    key=key,
                    replaces=replaces,
                )
                for key, words, replaces in notices
            ]
        )


async def post(store: Store, release_id: str, words: str, *, key: str = "watch") -> None:
    await say(store, release_id, (key, words, False))


async def update(
    store: Store,
    release_id: str,
    words: str,
    *,
    key: str = "watch",
    audience: Audience = Audience.FEED_THREAD,
) -> None:
    await say(store, release_id, (key, words, True), audience=audience)


async def claim(store: Store) -> Claim | None:
    return await outbox.claim_next(
        database=store.database, channel=FEED, now=store.clock(), lease=LEASE
    )


async def must_claim(store: Store) -> Claim:
    claimed = await claim(store)
    assert claimed is not None
    return claimed


async def sent(store: Store, claimed: Claim) -> None:
    """Record the claim as Slack would have taken it: a post lands, an update edits."""
    if claimed.operation == outbox.UPDATE:
        target = await find_keyed_message(
            database=store.database,
            release_id=claimed.release_id,
            role=claimed.role,
            before=claimed.id,
        )
        assert target is not None
        await outbox.mark_delivered(
            database=store.database, claim=claimed, now=store.clock(), ts=target.ts
        )
        return
    ts = f"1759436400.{claimed.id:06d}"
    await outbox.mark_sent(
        database=store.database, claim=claimed, ts=ts, thread_ts=None, now=store.clock()
    )


async def send_everything(store: Store) -> list[Claim]:
    delivered = []
    while (claimed := await claim(store)) is not None:
        await sent(store, claimed)
        delivered.append(claimed)
    return delivered


def words(claimed: Claim) -> str:
    return str(claimed.body["text"])


async def open_updates(store: Store) -> list[tuple[str, str]]:
    async with store.database.read() as session:
        rows = await session.execute(
            select(col(OutboxRow.state), col(OutboxRow.body))
            .where(
                col(OutboxRow.operation) == "update",
                col(OutboxRow.state).in_(("pending", "sending")),
            )
            .order_by(col(OutboxRow.id))
        )
        return [(state, body["text"]) for state, body in rows]


async def newest_id(store: Store) -> int:
    async with store.database.read() as session:
        newest = (await session.execute(select(func.max(col(OutboxRow.id))))).scalar_one()
        assert newest is not None
        return int(newest)


async def target(store: Store, release_id: str, *, before: int) -> PostedMessage | None:
    """The "watch" message an update enqueued as row `before` would edit."""
    return await find_keyed_message(
        database=store.database, release_id=release_id, role="watch", before=before
    )


async def coming(store: Store, release_id: str, *, before: int) -> bool:
    return await keyed_post_is_coming(
        database=store.database, release_id=release_id, role="watch", before=before
    )


async def test_a_keyed_post_goes_into_the_thread_under_its_key(store: Store) -> None:
    release_id = (await register(store)).release.id
    await send_everything(store)  # the feed root and its details
    await post(store, release_id, "watch: starting")
    await update(store, release_id, "watch: 1m green")
    before = await newest_id(store)  # the update's row
    assert await coming(store, release_id, before=before)
    assert await target(store, release_id, before=before) is None

    watch = await must_claim(store)
    assert (watch.role, watch.operation, watch.thread_role) == ("watch", "post", "feed_root")
    await sent(store, watch)
    assert not await coming(store, release_id, before=before)
    found = await target(store, release_id, before=before)
    assert found is not None and (found.channel, found.ts) == (FEED, f"1759436400.{watch.id:06d}")
    assert (await must_claim(store)).operation == "update"


async def test_a_post_enqueued_after_an_update_is_not_the_message_it_edits(store: Store) -> None:
    release_id = (await register(store)).release.id
    await send_everything(store)
    await update(store, release_id, "watch: 1m green")  # nothing posted under "watch" yet
    before = await newest_id(store)
    await post(store, release_id, "watch: starting")
    assert not await coming(store, release_id, before=before)
    orphan = await must_claim(store)  # ahead of the post: it must not wait for it
    await outbox.mark_dead(
        database=store.database, claim=orphan, error="nothing to edit", now=store.clock()
    )
    await send_everything(store)
    assert await target(store, release_id, before=before) is None
    later = await newest_id(store) + 1  # an update enqueued now edits the post
    assert await target(store, release_id, before=later) is not None


async def test_an_update_waits_in_the_queue_of_the_message_it_edits(store: Store) -> None:
    """The release failed meanwhile: an update meant for its ops thread still edits the
    message where it was posted, in order behind that post."""
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    await update(store, release_id, "watch: red", audience=Audience.OPS_THREAD)
    async with store.database.read() as session:
        channels = (
            await session.execute(
                select(col(OutboxRow.operation), col(OutboxRow.channel)).where(
                    col(OutboxRow.role) == "watch"
                )
            )
        ).all()
    assert [tuple(row) for row in channels] == [("post", FEED), ("update", FEED)]


async def test_a_second_pending_update_replaces_the_first(store: Store) -> None:
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    await update(store, release_id, "watch: 1m green")
    await update(store, release_id, "watch: 2m green")

    assert await open_updates(store) == [("pending", "watch: 2m green")]
    assert await count(store.database, OutboxRow, state="replaced") == 1
    delivered = await send_everything(store)
    assert [(c.operation, words(c)) for c in delivered if c.role == "watch"] == [
        ("post", "watch: starting"),
        ("update", "watch: 2m green"),
    ]


async def test_updates_enqueued_together_keep_only_the_last(store: Store) -> None:
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    await say(
        store, release_id, ("watch", "1m", True), ("watch", "2m", True), ("watch", "3m", True)
    )
    assert await open_updates(store) == [("pending", "3m")]


async def test_an_update_being_sent_is_not_replaced(store: Store) -> None:
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    await update(store, release_id, "watch: 1m green")
    while (claimed := await must_claim(store)).operation != "update":
        await sent(store, claimed)
    assert words(claimed) == "watch: 1m green"

    await update(store, release_id, "watch: 2m yellow")  # while 1m is with Slack
    assert await open_updates(store) == [
        ("sending", "watch: 1m green"),
        ("pending", "watch: 2m yellow"),
    ]
    assert await claim(store) is None, "the newer update waits for the one in flight"
    await sent(store, claimed)
    assert words(await must_claim(store)) == "watch: 2m yellow"


async def test_replaced_updates_are_never_claimed_nor_counted_as_waiting(store: Store) -> None:
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    for minute in (1, 2, 3):
        await update(store, release_id, f"watch: {minute}m green")
    await send_everything(store)

    assert await count(store.database, OutboxRow, state="replaced") == 2
    assert await outbox.count_open(database=store.database) == 0
    assert await outbox.list_open_channels(database=store.database) == []
    store.clock.advance(3600)
    assert await claim(store) is None
    [slack] = [
        totals
        for totals in (await take_snapshot(database=store.database, now=store.clock())).outbox
        if totals.sink == "slack"
    ]
    assert (slack.depth, slack.dead, slack.oldest_age_seconds) == (0, 0, 0.0)


async def test_coalescing_is_per_message(store: Store) -> None:
    first = (await register(store)).release.id
    second = (await register(store, manifest(id="rel-2025-10-02.4"))).release.id
    await post(store, first, "watch: starting")
    await post(store, first, "recovery: starting", key="recovery_watch")
    await post(store, second, "watch: starting")
    await update(store, first, "first: watch 1m")
    await update(store, first, "first: recovery 1m", key="recovery_watch")
    await update(store, second, "second: watch 1m")
    await update(store, first, "first: watch 2m")

    assert [text for _, text in await open_updates(store)] == [
        "first: recovery 1m",
        "second: watch 1m",
        "first: watch 2m",
    ]


async def test_coalescing_and_lookups_use_indexes_on_sqlite(store: Store) -> None:
    if not store.database.sqlite:
        pytest.skip("SQLite's query plans; PostgreSQL prefers a seq scan on tiny tables")
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    seen: list[tuple[str, Any]] = []

    def capture(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if "role" in statement and not statement.lstrip().upper().startswith("INSERT"):
            seen.append((statement, params))

    engine = store.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await update(store, release_id, "watch: 1m green")
        await target(store, release_id, before=1000)
        await coming(store, release_id, before=1000)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    # where the post waits (its outbox row, the message it left), replace pending updates,
    # the two lookups
    assert len(seen) == 5
    async with store.database.engine.connect() as conn:
        for statement, params in seen:
            plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
            steps = [str(row[-1]) for row in plan]
            assert steps and all(
                " USING " in s for s in steps if s.startswith(("SEARCH", "SCAN"))
            ), steps
            assert not any(s.startswith("SCAN") for s in steps), steps
