"""A page PagerDuty never takes is a dead letter, and the release's ops thread is told once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.domain.paging import Page, PageOutcome, release_dedup_key
from bot.domain.release.lifecycle import EventType
from bot.factories import partial_page_note
from bot.integrations.page_delivery import PageDelivery
from bot.slack.blocks import render_notice
from bot.store import outbox
from bot.store.dead_letters import list_dead_letters
from bot.store.ledgers import LedgerFactory
from bot.store.pages import PAGERDUTY_CHANNEL
from tests.store.conftest import store as store  # the migrated store and its ledgers
from tests.store.support import FEED, OPS, Store, advance, register

LEASE = timedelta(minutes=20)
WEB_OPS = "CWEBOPS"  # webapp's own ops channel


class RefusingPager:
    """PagerDuty answering every event with 400: the page is rejected."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def trigger(self, page: Page, *, routing_key: str, deadline: datetime) -> PageOutcome:
        self.sent.append(page.dedup_key)
        return PageOutcome.REJECTED

    async def resolve(self, dedup_key: str, *, routing_key: str, deadline: datetime) -> PageOutcome:
        return PageOutcome.REJECTED

    async def change_event(
        self,
        *,
        summary: str,
        source: str,
        routing_key: str,
        links: Sequence[tuple[str, str]] = (),
        custom_details: Mapping[str, Any] | None = None,
        deadline: datetime,
    ) -> PageOutcome:
        return PageOutcome.REJECTED


async def routing_key(_release_id: str) -> str:
    return "R0UT1NGKEY"


async def test_a_rejected_page_is_a_dead_letter_noted_in_the_ops_thread(store: Store) -> None:
    assert await dead_page_notes(store) == [
        (
            OPS,
            "ops_root",
            ":warning: Could not send the page to PagerDuty: `rejected`. Page the on-call by hand.",
        )
    ]


async def test_the_note_of_a_dead_page_goes_to_the_services_own_ops_channel(store: Store) -> None:
    ledgers = LedgerFactory(
        database=store.database,
        render=render_notice,
        channels={"feed": FEED, "ops": OPS},
        clock=store.clock,
        service_channels={"webapp": {"ops": WEB_OPS}},
    )
    own = Store(database=store.database, ledgers=ledgers, clock=store.clock)
    notes = await dead_page_notes(own)  # where webapp's ops thread is, not the global one
    assert [(channel, thread) for channel, thread, _ in notes] == [(WEB_OPS, "ops_root")]


async def dead_page_notes(store: Store) -> list[tuple[str, str | None, str]]:
    """Fail a release of webapp, have PagerDuty refuse its page: the notes queued about it
    in the global and webapp's own ops channel (channel, thread role, text)."""
    release_id = (await register(store)).release.id
    await advance(store, release_id, EventType.STARTED, EventType.FAILED)
    page = Page(dedup_key=release_dedup_key(release_id), summary="5xx spike", source="herald")
    async with store.ledgers() as ledger:
        await ledger.enqueue_page(
            release_id=release_id, page=page, deadline=store.clock() + timedelta(minutes=15)
        )
    pager = RefusingPager()
    delivery = PageDelivery(
        database=store.database,
        pager=pager,
        routing_key_for=routing_key,
        clock=store.clock,
        dead_note=partial_page_note(OPS),
    )
    claim = await outbox.claim_next(
        database=store.database, channel=PAGERDUTY_CHANNEL, now=store.clock(), lease=LEASE
    )
    assert claim is not None
    await delivery.deliver(claim)

    assert pager.sent == [page.dedup_key]
    [letter] = await list_dead_letters(database=store.database, limit=10, sink="pagerduty")
    assert (letter["role"], letter["error"]) == ("page_trigger", "rejected")
    notes = []
    for channel in (OPS, WEB_OPS):
        while (
            row := await outbox.claim_next(
                database=store.database, channel=channel, now=store.clock(), lease=LEASE
            )
        ) is not None:
            if row.role == "ops_dead_letter":
                notes.append((channel, row.thread_role, row.body["text"]))
            await outbox.mark_sent(
                database=store.database,
                claim=row,
                ts=f"1.{row.id:06d}",
                thread_ts=None,
                now=store.clock(),
            )
    return notes
