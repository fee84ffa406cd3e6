"""What release coordination did in a period, for the weekly report: releases started during
a freeze, glass broken to promote through one, emergency changes approved (each owing a
post-release review) and approval requests rejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.domain.approval.votes import State
from bot.domain.deploy.freeze_guard import BREAK_GLASS
from bot.domain.release.lifecycle import EventType
from bot.store.approval_tables import ApprovalRow
from bot.store.database import Database
from bot.store.release_rows import table_of
from bot.store.retros import retros_owed
from bot.store.tables import AuditRow, EventRow


@dataclass(frozen=True)
class CoordinationCounts:
    started_in_freeze: int = 0
    broke_glass: int = 0
    emergencies_approved: int = 0
    rejected: int = 0
    retros_owed: tuple[str, ...] = ()  # failed releases (the last four weeks) with no retro

    def retro_sentence(self) -> str | None:
        if not self.retros_owed:
            return None
        shown = ", ".join(self.retros_owed[:10])
        more = f" and {len(self.retros_owed) - 10} more" if len(self.retros_owed) > 10 else ""
        return f"Failed releases with no retro yet: {shown}{more}."

    def sentence(self) -> str | None:
        """`Coordination: 1 release started during a freeze, …`; None when nothing happened."""
        if not any((self.started_in_freeze, self.broke_glass, self.emergencies_approved,
                    self.rejected)):  # fmt: skip
            return None
        parts = [
            _count(self.started_in_freeze, "release", "started during a freeze"),
            _count(self.broke_glass, "break-glass promote", ""),
            _count(self.emergencies_approved, "emergency change", "approved (review owed)"),
            _count(self.rejected, "approval request", "rejected"),
        ]
        return "Coordination: " + ", ".join(parts) + "."


async def coordination_counts(
    database: Database, *, since: datetime, until: datetime
) -> CoordinationCounts:
    events, audit, approvals = table_of(EventRow), table_of(AuditRow), table_of(ApprovalRow)
    frozen = events.c.payload[("details", "during_freeze", "window")].as_string()
    started = select(func.count()).where(
        events.c.type == EventType.STARTED.value,
        events.c.at >= since,
        events.c.at <= until,
        frozen.is_not(None),
    )
    glass = select(func.count()).where(
        audit.c.action == BREAK_GLASS, audit.c.at >= since, audit.c.at <= until
    )
    decided = (approvals.c.decided_at >= since, approvals.c.decided_at <= until)
    emergencies = select(func.count()).where(
        approvals.c.review.is_(True), approvals.c.state == State.APPROVED.value, *decided
    )
    rejected = select(func.count()).where(approvals.c.state == State.REJECTED.value, *decided)
    async with database.read() as session:
        found = [
            int((await session.execute(query)).scalar_one())
            for query in (started, glass, emergencies, rejected)
        ]
    owed = await retros_owed(database, since=until - timedelta(weeks=4))
    started_n, glass_n, emergencies_n, rejected_n = found
    return CoordinationCounts(
        started_in_freeze=started_n,
        broke_glass=glass_n,
        emergencies_approved=emergencies_n,
        rejected=rejected_n,
        retros_owed=tuple(owed),
    )


def _count(n: int, noun: str, what: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}" + (f" {what}" if what else "")
