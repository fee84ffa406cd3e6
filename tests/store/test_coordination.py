"""The weekly report's coordination line, counted by the store: a release started during a
freeze, a break-glass promote, an approved emergency and a rejected request, this week only."""

from __future__ import annotations

from datetime import timedelta

from bot.catalog import Catalog
from bot.catalog_freezes import build_freeze_calendar
from bot.domain.approval.policy import Need, Tier
from bot.domain.approval.votes import Vote
from bot.domain.ports import AuditDecision, AuditEntry, AuditOutcome, Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.recording import record_event, register_release
from bot.store.audit import SqlAuditLog
from bot.store.coordination import coordination_counts
from tests.store.support import T0, Store, manifest, run

FREEZE = build_freeze_calendar(
    Catalog.model_validate(
        {
            "freezes": [
                {
                    "name": "launch",
                    "reason": "Launch week",
                    "start": (T0 - timedelta(hours=1)).isoformat(),
                    "end": (T0 + timedelta(hours=1)).isoformat(),
                }
            ]
        }
    ).freezes
)
EMERGENCY = Need(Tier.EMERGENCY, count=1, distinct=False, review=True)
NORMAL = Need(Tier.NORMAL, count=1, distinct=False, review=False)


async def planned(store: Store, rid: str, need: Need) -> None:
    release = manifest(id=rid)
    await run(
        store,
        lambda ledger: register_release(
            ledger=ledger, manifest=release, now=store.clock(), need=need
        ),
    )


async def decide(store: Store, rid: str, *, approve: bool) -> None:
    async def vote(ledger: Ledger) -> None:
        approval = await ledger.lock_approval(rid)
        assert approval is not None
        cast = Vote("U0LEAD", approve, store.clock(), ("U0LEAD",), "" if approve else "no")
        await ledger.add_vote(approval=approval.with_vote(cast), vote=cast)

    async with store.ledgers() as ledger:
        await vote(ledger)


async def test_the_week_counts_freeze_starts_broken_glass_emergencies_and_rejections(
    store: Store,
) -> None:
    await planned(store, "rel-hot", EMERGENCY)
    await planned(store, "rel-no", NORMAL)
    await planned(store, "rel-calm", NORMAL)
    start = EventRequest(event=EventType.STARTED)
    await run(
        store,
        lambda ledger: record_event(
            ledger=ledger, release_id="rel-hot", request=start, now=store.clock(), freezes=FREEZE
        ),
    )
    await decide(store, "rel-hot", approve=True)
    await decide(store, "rel-no", approve=False)
    await SqlAuditLog(database=store.database).record(
        AuditEntry(
            at=T0,
            actor="U0OWNER",
            action="break_glass",
            decision=AuditDecision.ALLOWED,
            outcome=AuditOutcome.DONE,
            service="webapp",
            env="prod",
        )
    )
    week = await coordination_counts(store.database, since=T0 - timedelta(days=7), until=T0)
    assert week.sentence() == (
        "Coordination: 1 release started during a freeze, 1 break-glass promote,"
        " 1 emergency change approved (review owed), 1 approval request rejected."
    )
    later = await coordination_counts(
        store.database, since=T0 + timedelta(days=1), until=T0 + timedelta(days=8)
    )
    assert later.sentence() is None  # nothing happened that week
