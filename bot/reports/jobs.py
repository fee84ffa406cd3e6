"""Scheduled reports: the daily stakeholder digest and the weekly report, once per period
across replicas (a claim per period), posted with the Slack Web API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.digest import build_digest, render_digest_slack
from bot.domain.lifecycle import EventType
from bot.domain.ports import AuditLog
from bot.store.database import Database
from bot.store.reporting import failure_symptoms, releases_in_period

log = logging.getLogger(__name__)
WeeklyPoster = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True)
class DigestJob:
    database: Database
    client: AsyncWebClient
    audit: AuditLog
    channel: str
    clock: Callable[[], datetime]

    async def run(self) -> bool:
        """Post the digest of the last day, unless another replica already did."""
        until = self.clock()
        claim = await self.audit.claim(key=f"digest:{until:%Y-%m-%d}", actor="herald", at=until)
        if not claim.won:
            return False
        since = until - timedelta(days=1)
        releases = await releases_in_period(self.database, since=since, until=until)
        failed = [r.id for r in releases if EventType.FAILED in r.times]
        symptoms = await failure_symptoms(self.database, failed)
        message = render_digest_slack(
            build_digest(releases, since=since, until=until, symptoms=symptoms)
        )
        await self.client.chat_postMessage(
            channel=self.channel,
            text=message["text"],
            blocks=message["blocks"],
            unfurl_links=False,
        )
        log.info("posted the daily digest", extra={"channel": self.channel})
        return True
