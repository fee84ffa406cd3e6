"""PagerDuty's rows in the outbox: one page per release, its resolve, one change per deploy."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.paging import ChangeEvent, Page, release_dedup_key
from bot.store.tables import OutboxRow

PAGERDUTY_CHANNEL = "pagerduty"


def to_json(item: Page | ChangeEvent) -> dict[str, Any]:
    """A page or change event as the outbox row's JSON (links as lists, details as a dict)."""
    data = asdict(item)
    data["links"] = [list(link) for link in item.links]
    data["custom_details"] = dict(item.custom_details)
    return data


def page_from_json(data: dict[str, Any]) -> Page:
    return Page(**{**data, "links": tuple(tuple(link) for link in data.get("links", []))})


class PageRows:
    """Writes within the caller's transaction; the caller flushes."""

    def __init__(self, session: AsyncSession, *, now: datetime) -> None:
        self._session = session
        self._now = now

    async def enqueue_page(self, *, release_id: str, page: Page, deadline: datetime) -> None:
        if await self._has(release_id, "page_trigger"):
            return  # one page per release: PagerDuty already has (or will get) it
        body = {"action": "trigger", "page": to_json(page)}
        self._add(release_id, "page_trigger", body, deadline=deadline, urgent=True)

    async def resolve(self, *, release_id: str, deadline: datetime) -> None:
        if not await self._has(release_id, "page_trigger"):
            return
        if await self._has(release_id, "page_resolve"):
            return
        body = {"action": "resolve", "dedup_key": release_dedup_key(release_id)}
        self._add(release_id, "page_resolve", body, deadline=deadline, urgent=True)

    async def enqueue_change(
        self, *, release_id: str, change: ChangeEvent, deadline: datetime
    ) -> None:
        if await self._has(release_id, "change_event"):
            return
        body = {"action": "change", "change": to_json(change)}
        self._add(release_id, "change_event", body, deadline=deadline, urgent=False)

    async def _has(self, release_id: str, role: str) -> bool:
        found = await self._session.execute(
            select(col(OutboxRow.id)).where(
                col(OutboxRow.release_id) == release_id, col(OutboxRow.role) == role
            )
        )
        return found.first() is not None

    def _add(
        self, release_id: str, role: str, body: dict[str, Any], *, deadline: datetime, urgent: bool
    ) -> None:
        self._session.add(
            OutboxRow(
                release_id=release_id,
                sink="pagerduty",
                channel=PAGERDUTY_CHANNEL,
                role=role,
                body={**body, "deadline": deadline.isoformat()},
                urgent=urgent,
                next_attempt_at=self._now,
                created_at=self._now,
            )
        )
