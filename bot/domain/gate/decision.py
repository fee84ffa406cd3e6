"""Go or no-go for one release, with every reason, as CI's gate step and people read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.window import Occurrence
from bot.domain.ports import Ledger
from bot.domain.release.model import Release
from bot.errors import NotFound


class Decision(StrEnum):
    GO = "go"
    PENDING = "pending"  # waiting for a decision (approvals); CI may wait
    REJECTED = "rejected"
    FROZEN = "frozen"


@dataclass(frozen=True)
class Reason:
    code: str  # frozen, pre_approved, ...
    message: str
    until: datetime | None = None
    window: str | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.until is not None:
            found["until"] = self.until.isoformat()
        if self.window is not None:
            found["window"] = self.window
        return found


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
    *, ledger: Ledger, release_id: str, freezes: FreezeCalendar, now: datetime
) -> GateAnswer:
    """Whether `release_id` may ship now, and every reason. Raises NotFound."""
    release = await ledger.get_release(release_id)
    if release is None:
        raise NotFound(f"no release with id {release_id}")
    holding = freezes.holding(release.service, release.env, at=now)
    if holding:
        reasons = tuple(_frozen(occurrence, release) for occurrence in holding)
        return GateAnswer(release, Decision.FROZEN, reasons, now)
    go = Reason("no_freeze", f"No freeze holds {release.service} in {release.env}.")
    return GateAnswer(release, Decision.GO, (go,), now)


def _frozen(occurrence: Occurrence, release: Release) -> Reason:
    until = occurrence.end.astimezone(UTC)
    message = (
        f"{release.service} in {release.env} is frozen until {until:%Y-%m-%d %H:%M} UTC"
        f" ({occurrence.name}: {occurrence.reason})."
    )
    return Reason("frozen", message, until=until, window=occurrence.name)
