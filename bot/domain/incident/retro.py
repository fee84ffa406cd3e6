"""The retro of a failed release: a reminder in its ops thread a while after it recovered
(24 h by default), with the incident's timeline and Retro done, which takes the write-up's
link. Once across restarts and replicas: the incident row says it was reminded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from bot.domain.deploy.context import Operations, Reply, audit_release
from bot.domain.incident.command import incident_of, refusal
from bot.domain.ports import Ledger
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import Emoji, Link, Text, User, lines, text, utc_stamp
from bot.domain.transactions import run_in_transaction

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)  # a recovery older than its reminder time plus this is let go


@dataclass(frozen=True)
class RetroReminders:
    """Every few minutes: each release recovered `after` ago gets its retro reminder."""

    ops: Operations
    after: timedelta = timedelta(hours=24)

    async def run(self) -> int:
        until = self.ops.clock() - self.after
        due = await self.ops.releases.retros_due(since=until - LOOKBACK, until=until)
        sent = 0
        for release_id in due:
            release = await self.ops.releases.by_id(release_id)
            if release is not None:
                sent += await self._remind(release, await timeline(self.ops, release))
        return sent

    async def _remind(self, release: Release, said: Text) -> int:
        async def remind(ledger: Ledger) -> int:
            incident, new = await incident_of(ledger, release.id)
            if incident.reminded_at is not None:
                return 0
            await ledger.save_incident(incident.reminded(at=self.ops.clock()), new=new)
            await ledger.enqueue(
                [Notice(NoticeKind.RETRO, Audience.OPS_THREAD, release, None, text=said)]
            )
            return 1

        return await run_in_transaction(self.ops.ledgers, remind)


async def timeline(ops: Operations, release: Release) -> Text:
    """`:spiral_note_pad: Time for the retro of rel-2.` and each step with its time."""
    steps: list[tuple[datetime, Text]] = []
    times = release.times
    if (failed := times.get(EventType.FAILED)) is not None:
        steps.append((failed, text("failed")))
    if (paged := await ops.releases.paged_at(release.id)) is not None:
        steps.append((paged, text("on-call paged")))
    claim = await ops.audit.last_claim(f"commander:{release.id}")
    if claim is not None:
        steps.append((claim.at, text(User(claim.holder), " took command")))
    if (rolled := times.get(EventType.ROLLED_BACK)) is not None:
        steps.append((rolled, text("rolled back")))
    if (recovered := times.get(EventType.RECOVERED)) is not None:
        steps.append((recovered, text("recovered")))
    head = text(Emoji("spiral_note_pad"), f" Time for the retro of {release.id}. Timeline:")
    return lines([head, *(text(f"• {utc_stamp(at)} ", said) for at, said in sorted(steps))])


async def record_retro(ops: Operations, *, actor: str, release_id: str, link: str) -> Reply:
    """The retro is done: its write-up linked in the thread, and no longer owed."""
    link = link.strip()
    parsed = urlparse(link)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in link:
        return Reply(False, text("Link the retro's write-up with an http(s) URL."))
    release = await ops.releases.by_id(release_id)
    if release is None or EventType.FAILED not in release.times:
        return Reply(False, text(f"{release_id} has no incident: it has not failed."))
    if (refused := await refusal(ops, actor, release, "record the retro")) is not None:
        return refused
    said = text(Emoji("white_check_mark"), " Retro done by ", User(actor), ": ",
                Link(link, "the write-up"), ".")  # fmt: skip

    async def done(ledger: Ledger) -> None:
        incident, new = await incident_of(ledger, release_id)
        await ledger.save_incident(incident.retro_done(link, at=ops.clock()), new=new)
        await ledger.enqueue([Notice.note(release, said)])

    await run_in_transaction(ops.ledgers, done)
    await audit_release(ops, actor=actor, action="retro_done", release=release, detail=link)
    return Reply(True, text("Retro recorded."))
