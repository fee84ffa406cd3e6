"""Go or no-go for one release, with every reason, as CI's gate step and people read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.domain.approval.votes import State
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import Occurrence
from bot.domain.gate.approvals import approval_reasons
from bot.domain.gate.reason import Reason
from bot.domain.gate.requirements import check_requirement
from bot.domain.ports import ReleaseReader
from bot.domain.rehearsal.model import Rehearsal
from bot.domain.release.model import Release
from bot.domain.text import utc_stamp


class Decision(StrEnum):
    GO = "go"
    PENDING = "pending"  # waiting for a decision (approvals); CI may wait
    REJECTED = "rejected"
    FROZEN = "frozen"


@dataclass(frozen=True)
class GateAnswer:
    release: Release
    decision: Decision
    reasons: tuple[Reason, ...]
    checked_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "release_id": self.release.id,
            "service": self.release.service,
            "env": self.release.env,
            "version": self.release.version,
            "decision": self.decision.value,
            "go": self.decision is Decision.GO,
            "reasons": [reason.as_json() for reason in self.reasons],
            "checked_at": self.checked_at.isoformat(),
        }


async def decide_gate(
    *,
    release: Release,
    releases: ReleaseReader,
    freezes: FreezeCalendar,
    now: datetime,
) -> GateAnswer:
    """Whether `release` may ship now, and every reason. A freeze holds it (frozen); a
    rejection stops it (rejected); an approval still owed, or an unmet requirement, makes it
    wait (pending) until the approvers decide or the service it needs runs a version in
    range."""
    holding = freezes.holding(release.service, release.env, at=now)
    frozen = tuple(_frozen(occurrence, release) for occurrence in holding)
    needs = tuple(
        [await check_requirement(releases, release, need) for need in release.manifest.requires]
    )
    unmet = tuple(reason for reason in needs if reason.code == "requires_unmet")
    approval = await releases.approval_of(release.id)
    approved = approval_reasons(approval, release)
    owed = approved if approval is not None else ()  # a no-go says only what stops it
    if frozen:
        return GateAnswer(release, Decision.FROZEN, frozen + owed + unmet, now)
    if approval is not None and approval.state is State.REJECTED:
        return GateAnswer(release, Decision.REJECTED, owed + unmet, now)
    if unmet or (approval is not None and approval.state is State.WAITING):
        return GateAnswer(release, Decision.PENDING, owed + unmet, now)
    go = Reason("no_freeze", f"No freeze holds {release.service} in {release.env}.")
    rehearsed = _rehearsed(await releases.rehearsal_of(release), now)
    return GateAnswer(release, Decision.GO, (go, *needs, *approved, rehearsed), now)


def _rehearsed(rehearsal: Rehearsal | None, now: datetime) -> Reason:
    """Said, never deciding: a release may ship unrehearsed."""
    if rehearsal is None:
        return Reason("rollback_not_rehearsed", "Its rollback was not rehearsed in another env.")
    return Reason("rollback_rehearsed", f"{rehearsal.describe(now=now)}.")


def _frozen(occurrence: Occurrence, release: Release) -> Reason:
    until = occurrence.end.astimezone(UTC)
    message = (
        f"{release.service} in {release.env} is frozen until {utc_stamp(until)}"
        f" ({occurrence.name}: {occurrence.reason})."
    )
    return Reason("frozen", message, until=until, window=occurrence.name)
