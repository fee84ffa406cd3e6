"""Delivers pages from the outbox to PagerDuty: once per release, retries bounded in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.paging import Page, PageOutcome, Pager
from bot.store import outbox
from bot.store.database import Database
from bot.store.outbox import Claim
from bot.store.pages import PAGERDUTY_CHANNEL, page_from_json
from bot.wakeups import sleep_until_woken

log = logging.getLogger(__name__)
RoutingKeys = Callable[[str], Awaitable[str | None]]  # release id → routing key
MessageLinks = Callable[[str], Awaitable[dict[str, str]]]  # release id → role → Slack link
DeadNote = Callable[[Claim, str], outbox.Note | None]  # a dead page → the note saying so


class PageDelivery:
    def __init__(
        self,
        *,
        database: Database,
        pager: Pager,
        routing_key_for: RoutingKeys,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
        message_links: MessageLinks | None = None,
        dead_note: DeadNote | None = None,
    ) -> None:
        self._dead_note = dead_note
        self._message_links = message_links
        self._database = database
        self._pager = pager
        self._routing_key_for = routing_key_for
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        """Finish the page in hand, then return from `run` (no transaction cut short)."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                claim = await outbox.claim_next(
                    database=self._database,
                    channel=PAGERDUTY_CHANNEL,
                    now=self._clock(),
                    lease=timedelta(minutes=20),
                )
                if claim is not None:
                    await self.deliver(claim)
                    continue
            except Exception:  # the worker outlives one bad row; the row stays claimable
                log.exception("page delivery failed unexpectedly")
            await sleep_until_woken(self._wakeup, seconds=self._poll_seconds)

    async def _send(
        self, claim: Claim, body: dict[str, Any], *, routing_key: str, deadline: datetime
    ) -> PageOutcome:
        if body["action"] == "trigger":
            page = await self._with_thread_links(claim.release_id, page_from_json(body["page"]))
            return await self._pager.trigger(page, routing_key=routing_key, deadline=deadline)
        if body["action"] == "change":
            change = body["change"]
            return await self._pager.change_event(
                summary=change["summary"],
                source=change["source"],
                routing_key=routing_key,
                links=[(href, text) for href, text in change["links"]],
                custom_details=change["custom_details"],
                deadline=deadline,
            )
        return await self._pager.resolve(
            body["dedup_key"], routing_key=routing_key, deadline=deadline
        )

    async def _with_thread_links(self, release_id: str, page: Page) -> Page:
        """Link the ops thread (and the feed message) when Slack already has them."""
        if self._message_links is None:
            return page
        links = await self._message_links(release_id)
        names = {"ops_root": "Incident thread in Slack", "feed_root": "Release in Slack"}
        extra = tuple((links[role], text) for role, text in names.items() if role in links)
        return replace(page, links=(*extra, *page.links)[:10])

    async def deliver(self, claim: Claim) -> None:
        body = claim.body
        deadline = datetime.fromisoformat(body["deadline"])
        extra = {"release_id": claim.release_id, "action": body["action"]}
        if body["action"] == "change" and claim.ambiguous:
            # no dedup_key: a change event that may have gone out is not sent again
            log.warning(
                "change event may have been sent before a restart; not repeated", extra=extra
            )
            await outbox.mark_dead(
                database=self._database, claim=claim, error="ambiguous", now=self._clock()
            )
            return
        key = await self._routing_key_for(claim.release_id)
        if key is None:
            log.error("cannot page: no PagerDuty routing key configured", extra=extra)
            await self._give_up(claim, "no routing key")
            return
        outcome = await self._send(claim, body, routing_key=key, deadline=deadline)
        if outcome is PageOutcome.SENT:
            await outbox.mark_delivered(database=self._database, claim=claim, now=self._clock())
            log.info("page delivered", extra=extra)
        else:
            log.error("page not delivered: %s", outcome.value, extra=extra)
            await self._give_up(claim, outcome.value)

    async def _give_up(self, claim: Claim, error: str) -> None:
        """A dead letter, with a note in the release's ops thread when one is owed."""
        note = self._dead_note(claim, error) if self._dead_note is not None else None
        await outbox.mark_dead(
            database=self._database, claim=claim, error=error, now=self._clock(), note=note
        )
