"""Once-only action claims: one winner per attempt, the latest attempt found by its key, and
what a finished action left behind, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.store.audit import SqlAuditLog
from tests.store.support import Store

AT = datetime(2025, 10, 2, 20, 0, tzinfo=UTC)
KEY = "rollback:webapp:prod:rel-2:abort:None"


async def test_one_winner_per_attempt_and_the_latest_attempt_is_found(store: Store) -> None:
    claims = SqlAuditLog(database=store.database)
    assert await claims.last_claim(KEY) is None
    first = await asyncio.gather(
        *(claims.claim(key=KEY, actor=f"U{n}", at=AT, attempt=1) for n in range(3))
    )
    assert sum(c.won for c in first) == 1
    winner = next(c.holder for c in first if c.won)
    assert {c.holder for c in first} == {winner}
    held = await claims.last_claim(KEY)
    assert held is not None and (held.attempt, held.holder, held.left) == (1, winner, None)

    await claims.finish_claim(key=KEY, attempt=1, left="aborted", at=AT)
    held = await claims.last_claim(KEY)
    assert held is not None and (held.attempt, held.left) == (1, "aborted")

    later = AT + timedelta(hours=1)
    second = await asyncio.gather(
        claims.claim(key=KEY, actor="U8", at=later, attempt=2),
        claims.claim(key=KEY, actor="U9", at=later, attempt=2),
    )
    assert sorted(c.won for c in second) == [False, True]
    held = await claims.last_claim(KEY)
    assert held is not None and (held.attempt, held.left) == (2, None)
    again = await claims.claim(key=KEY, actor="U7", at=later, attempt=1)
    assert (again.won, again.holder) == (False, winner)  # the first attempt keeps its holder


async def test_a_claim_without_attempts_is_attempt_one_of_its_key(store: Store) -> None:
    """As a Herald of the previous version writes it during a rolling upgrade."""
    async with store.database.transaction() as session:
        await session.execute(
            text("INSERT INTO action_claims (key, actor, at) VALUES (:key, 'U0OLD', :at)"),
            {"key": KEY, "at": AT.replace(tzinfo=None)},
        )
    claims = SqlAuditLog(database=store.database)
    held = await claims.last_claim(KEY)
    assert held is not None and (held.attempt, held.holder, held.left) == (1, "U0OLD", None)
    lost = await claims.claim(key=KEY, actor="U1", at=AT)
    assert (lost.won, lost.holder) == (False, "U0OLD")
    assert (await claims.claim(key=KEY, actor="U2", at=AT, attempt=2)).won
    held = await claims.last_claim(KEY)
    assert held is not None and (held.attempt, held.holder) == (2, "U2")


async def test_a_long_key_keeps_its_attempts_apart(store: Store) -> None:
    claims = SqlAuditLog(database=store.database)
    key = "promote:" + "x" * 300
    assert (await claims.claim(key=key, actor="U1", at=AT)).won
    await claims.finish_claim(key=key, attempt=1, left="s" * 300, at=AT)
    assert (await claims.claim(key=key, actor="U2", at=AT, attempt=2)).won
    held = await claims.last_claim(key)
    assert held is not None and (held.attempt, held.holder) == (2, "U2")
