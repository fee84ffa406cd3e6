"""Closed sets (checkup colour, audit decision and outcome) are enums in the domain and their
plain string values in the store's columns, read back as enums."""

from __future__ import annotations

from sqlmodel import col, select

from bot.domain.checkup.verdict import Color
from bot.domain.ports import AuditDecision, AuditEntry, AuditOutcome
from bot.domain.release.lifecycle import EventType
from bot.store.audit import SqlAuditLog
from bot.store.releases import SqlReleaseReader
from bot.store.tables import AuditRow, CheckupRow
from tests.store.support import Store, advance, register


async def test_a_checkup_colour_is_stored_as_its_value_and_read_back_as_a_color(
    store: Store,
) -> None:
    release = (await register(store)).release
    await advance(store, release.id, EventType.STARTED, EventType.DEPLOYED)
    async with store.database.read() as session:
        first = (
            (
                await session.execute(
                    select(col(CheckupRow.id))
                    .where(col(CheckupRow.release_id) == release.id)
                    .order_by(col(CheckupRow.offset_seconds))
                )
            )
            .scalars()
            .first()
        )
    assert first is not None
    async with store.ledgers() as ledger:
        await ledger.finish_checkup(checkup_id=first, color=Color.YELLOW, result={})
    async with store.database.read() as session:
        row = await session.get(CheckupRow, first)
    assert row is not None and type(row.color) is str and row.color == "yellow"
    summary = await SqlReleaseReader(database=store.database).checkup_summary(release.id)
    assert summary.last_color is Color.YELLOW


async def test_an_audit_decision_and_outcome_are_stored_as_their_values(store: Store) -> None:
    entry = AuditEntry(
        at=store.clock(),
        actor="U0STRANGER",
        action="promote",
        decision=AuditDecision.DENIED,
        outcome=AuditOutcome.REFUSED,
    )
    await SqlAuditLog(database=store.database).record(entry)
    async with store.database.read() as session:
        rows = list((await session.execute(select(AuditRow))).scalars())
    assert [(type(r.decision), r.decision, type(r.outcome), r.outcome) for r in rows] == [
        (str, "denied", str, "refused")
    ]
