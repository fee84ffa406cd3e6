"""Naming the incident commander of a failed release: the on-call from PagerDuty, unless
someone took command first. Restart-safe and once: the `commander:<release>` claim in the
audit log decides, not this process's memory."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain.deploy.context import Operations, Reply
from bot.domain.incident.command import name_commander
from bot.domain.ports import AuditDecision, AuditEntry, AuditOutcome
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, Release
from bot.domain.services.oncall import OnCallDirectory, OnCallLookupError
from bot.domain.text import Emoji, User, text

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=2)  # a release that failed longer ago has its people already


class CommanderJob:
    """Every few seconds: each failed, unrecovered release without a commander gets the
    service's on-call (the first by Slack id, when several are on call) named."""

    def __init__(
        self, *, ops: Operations, oncall: OnCallDirectory, window: timedelta = WINDOW
    ) -> None:
        self._ops = ops
        self._oncall = oncall
        self._window = window
        self._settled: set[str] = set()  # releases with a commander; saves asking again

    async def run(self) -> int:
        """How many commanders were named; a failed run is retried by the next."""
        try:
            return await self._run()
        except Exception:
            log.exception("naming incident commanders failed; the next run retries")
            return 0

    async def _run(self) -> int:
        since = self._ops.clock() - self._window
        named = 0
        for release in await self._ops.releases.failed_unrecovered(since=since):
            if release.id in self._settled:
                continue
            named += await self._name(release)
        return named

    async def _name(self, release: Release) -> int:
        try:
            users = await self._oncall.on_call(release.service)
        except OnCallLookupError as exc:
            log.warning(
                "on-call unknown, no commander named yet: %s",
                exc.message,
                extra={"release_id": release.id, "service": release.service},
            )
            return 0
        if not users:
            return 0
        if await self._named_by_ci(release):
            self._settled.add(release.id)
            return 0
        reply = await take_command(
            self._ops, actor=min(users), release_id=release.id, from_pagerduty=True
        )
        self._settled.add(release.id)
        return 1 if reply.ok else 0

    async def _named_by_ci(self, release: Release) -> bool:
        """The failure event itself named a commander (`commander` detail)."""
        async with self._ops.ledgers() as ledger:
            failed = await ledger.get_event(release_id=release.id, event=EventType.FAILED)
        return failed is not None and bool(failed.payload.details.get("commander"))


async def take_command(
    ops: Operations, *, actor: str, release_id: str, from_pagerduty: bool = False
) -> Reply:
    """The first person to click (or the on-call Herald names) becomes incident commander;
    later clicks learn who did."""
    claim = await ops.audit.claim(key=f"commander:{release_id}", actor=actor, at=ops.clock())
    if not claim.won:
        if claim.holder == actor:
            return Reply(False, text(f"You are the incident commander since {claim.at:%H:%M} UTC."))
        return Reply(False, text(User(claim.holder), f" took command at {claim.at:%H:%M} UTC."))
    how = " (on call in PagerDuty)" if from_pagerduty else ""
    async with ops.ledgers() as ledger:
        release = await ledger.get_release(release_id)
        if release is not None:
            note = text(
                Emoji("large_blue_circle"),
                " ",
                User(actor),
                f" is the incident commander for {release.id}{how}.",
            )
            await ledger.enqueue([Notice.note(release, note)])
            await name_commander(ledger, ops, release, actor)
    await ops.audit.record(
        AuditEntry(
            at=ops.clock(),
            actor=actor,
            action="take_command",
            decision=AuditDecision.ALLOWED,
            outcome=AuditOutcome.DONE,
            release_id=release_id,
            detail="named by Herald: on call in PagerDuty" if from_pagerduty else "",
        )
    )
    return Reply(
        True, text("You are the incident commander. Herald will keep this thread updated.")
    )
