"""Retention: old inbox keys and delivered outbox rows go; nothing dedupe or a delivery
still needs ever does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event
from sqlmodel import col, select

from bot.domain.release.model import Audience
from bot.store import outbox
from bot.store.inbox import DEDUPE_HORIZON, claim_pending, finish, record_once
from bot.store.retention import Pruned, RetentionPolicy, prune
from bot.store.tables import InboxRow, OutboxRow
from tests.store.support import FEED, Store, count, register
from tests.store.test_keyed_messages import must_claim, post, send_everything, sent, update

DAY = 86400
POLICY = RetentionPolicy(inbox=DEDUPE_HORIZON, outbox=timedelta(days=30))
ALERT = 'alertmanager:{}:{alertname="HighErrorRate"}:f1:firing:2025-10-02T20:30:00+00:00'


async def delivered(store: Store, key: str) -> bool:
    """A webhook delivery as /hooks/* claims it: True if Herald acts on it."""
    return await record_once(
        database=store.database, key=key, source="argocd", now=store.clock(), refresh=True
    )


async def prune_now(store: Store, policy: RetentionPolicy = POLICY) -> Pruned:
    return await prune(database=store.database, policy=policy, now=store.clock())


async def test_a_redelivery_within_the_dedupe_horizon_is_dropped_after_a_prune(
    store: Store,
) -> None:
    key = "argocd:argocd/webapp:9f4c2b1:on-deployed"
    assert await delivered(store, key)
    store.clock.advance(DEDUPE_HORIZON.total_seconds() - 60)
    assert await prune_now(store) == Pruned()
    assert not await delivered(store, key)  # Argo CD's late retry: still a duplicate

    store.clock.advance(DEDUPE_HORIZON.total_seconds() + DAY)
    assert (await prune_now(store)).inbox == 1  # last seen a horizon ago: forgotten
    assert await count(store.database, InboxRow) == 0


async def test_an_alert_alertmanager_keeps_repeating_stays_a_duplicate(store: Store) -> None:
    assert await delivered(store, ALERT)
    for _ in range(3 * 7 * 2):  # three weeks of a firing group, repeated every 12 hours
        store.clock.advance(DAY / 2)
        assert not await delivered(store, ALERT)
        await prune_now(store)
    assert await count(store.database, InboxRow, key=ALERT) == 1


async def test_a_command_whose_work_is_owed_is_never_pruned(store: Store) -> None:
    request = {"command": "/deploy", "text": "rollback webapp", "response_url": "https://x"}
    assert await record_once(
        database=store.database,
        key="slack:trigger:T1",
        source="slack",
        now=store.clock(),
        request=request,
    )
    assert await record_once(
        database=store.database, key="slack:event:Ev1", source="slack", now=store.clock()
    )
    store.clock.advance(60 * DAY)
    assert (await prune_now(store)).inbox == 1  # the event owed nothing
    owed = await claim_pending(
        database=store.database,
        worker="host:1",
        now=store.clock(),
        stale_before=store.clock(),
        limit=10,
    )
    assert [item.key for item in owed] == ["slack:trigger:T1"]
    await finish(database=store.database, key="slack:trigger:T1", now=store.clock())
    assert (await prune_now(store)).inbox == 1
    assert await count(store.database, InboxRow) == 0


async def add_row(store: Store, release_id: str, *, state: str, sink: str = "slack") -> None:
    async with store.database.transaction() as session:
        session.add(
            OutboxRow(
                release_id=release_id,
                sink=sink,
                channel=FEED if sink == "slack" else "pagerduty",
                role=f"{sink}-{state}",
                body={"text": state},
                state=state,
                next_attempt_at=store.clock(),
                created_at=store.clock(),
            )
        )


async def states(store: Store) -> list[tuple[str, str]]:
    async with store.database.read() as session:
        rows = await session.execute(
            select(col(OutboxRow.sink), col(OutboxRow.state)).order_by(col(OutboxRow.id))
        )
        return [(sink, state) for sink, state in rows]


async def test_only_delivered_slack_rows_past_the_retention_are_pruned(store: Store) -> None:
    release_id = (await register(store)).release.id
    posts = await send_everything(store)  # the release's own posts: sent
    for state in ("pending", "sending", "dead", "replaced", "sent"):
        await add_row(store, release_id, state=state)
    await add_row(store, release_id, state="sent", sink="pagerduty")  # the page: once
    store.clock.advance(31 * DAY)
    await add_row(store, release_id, state="sent")  # delivered yesterday
    assert (await prune_now(store)).outbox == len(posts) + 2  # + the old replaced and sent
    assert await states(store) == [
        ("slack", "pending"),
        ("slack", "sending"),
        ("slack", "dead"),
        ("pagerduty", "sent"),
        ("slack", "sent"),
    ]


async def test_the_newest_outbox_row_is_kept_so_its_id_is_never_handed_out_again(
    store: Store,
) -> None:
    await register(store)
    delivered_rows = await send_everything(store)
    store.clock.advance(31 * DAY)
    assert (await prune_now(store)).outbox == len(delivered_rows) - 1
    assert await states(store) == [("slack", "sent")]


async def test_pruning_goes_a_batch_at_a_time_until_it_is_done(store: Store) -> None:
    release_id = (await register(store)).release.id
    for _ in range(7):
        await add_row(store, release_id, state="sent")
        assert await record_once(
            database=store.database,
            key=f"argocd:{store.clock().timestamp()}",
            source="argocd",
            now=store.clock(),
        )
        store.clock.advance(1)
    store.clock.advance(31 * DAY)
    small = RetentionPolicy(inbox=DEDUPE_HORIZON, outbox=timedelta(days=30), batch=2)
    pending = await count(store.database, OutboxRow, state="pending")
    pruned = await prune_now(store, small)
    assert pruned.inbox == 7
    assert await count(store.database, OutboxRow) == pending + 1  # the newest stays


async def test_a_message_whose_outbox_rows_were_pruned_is_still_edited_in_place(
    store: Store,
) -> None:
    """A month later the release failed: its live line is edited where it was posted (the
    feed), not posted afresh nor queued in the ops channel's line."""
    release_id = (await register(store)).release.id
    await post(store, release_id, "watch: starting")
    posted = [c for c in await send_everything(store) if c.role == "watch"]
    store.clock.advance(31 * DAY)
    assert (await prune_now(store)).outbox >= 1
    await update(store, release_id, "watch: red", audience=Audience.OPS_THREAD)
    edit = await must_claim(store)
    assert (edit.operation, edit.channel) == ("update", FEED)
    await sent(store, edit)
    async with store.database.read() as session:
        ts = (
            await session.execute(select(col(OutboxRow.ts)).where(col(OutboxRow.id) == edit.id))
        ).scalar_one()
    assert ts == f"1759436400.{posted[0].id:06d}"


async def test_prune_statements_use_indexes_on_sqlite(store: Store) -> None:
    if not store.database.sqlite:
        pytest.skip("SQLite's query plans; PostgreSQL prefers a seq scan on tiny tables")
    seen: list[tuple[str, Any]] = []

    def capture(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append((statement, params))

    engine = store.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await prune_now(store)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 2
    async with store.database.engine.connect() as conn:
        for statement, params in seen:
            plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
            steps = [str(row[-1]) for row in plan]
            assert not any(s.startswith("SCAN") for s in steps), steps


async def test_outbox_rows_open_for_a_year_are_still_delivered(store: Store) -> None:
    """A channel Slack refused for a year (archived, then restored): its messages wait."""
    await register(store)
    waiting = await outbox.count_open(database=store.database)
    store.clock.advance(365 * DAY)
    await prune_now(store)
    assert waiting > 0
    assert await outbox.count_open(database=store.database) == waiting
    assert len(await send_everything(store)) == waiting
