"""Go/no-go in the store: a release's approval request, opened with the release, and the
votes on it. A vote locks its request row (`FOR UPDATE` on PostgreSQL; SQLite has one
writer), so two replicas, or two clicks, count each vote once and decide once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.approval.policy import Need, Tier
from bot.domain.approval.votes import Approval, State, Vote
from bot.store.approval_tables import ApprovalRow, ApprovalVoteRow
from bot.store.database import Database


def opened(release_id: str, need: Need, *, at: datetime) -> ApprovalRow:
    return ApprovalRow(
        release_id=release_id,
        tier=need.tier.value,
        needed=need.count,
        distinct_groups=need.distinct,
        review=need.review,
        state=State.WAITING.value,
        requested_at=at,
    )


async def lock_approval(session: AsyncSession, release_id: str) -> Approval | None:
    """The request and its votes, its row locked until the transaction ends."""
    query = select(ApprovalRow).where(col(ApprovalRow.release_id) == release_id)
    row = (await session.execute(query.with_for_update())).scalars().first()
    return None if row is None else await _with_votes(session, row)


async def add_vote(session: AsyncSession, release_id: str, vote: Vote) -> None:
    session.add(
        ApprovalVoteRow(
            release_id=release_id,
            user=vote.user,
            approve=vote.approve,
            reason=vote.reason,
            via=list(vote.via),
            at=vote.at,
        )
    )
    await session.flush()


async def settle(session: AsyncSession, approval: Approval) -> None:
    await session.execute(
        update(ApprovalRow)
        .where(col(ApprovalRow.release_id) == approval.release_id)
        .values(state=approval.state.value, decided_at=approval.decided_at)
        .execution_options(synchronize_session=False)
    )


async def claim_post(session: AsyncSession, release_id: str, *, at: datetime) -> bool:
    """Mark the request message queued; False when another run did already."""
    result = await session.execute(
        update(ApprovalRow)
        .where(col(ApprovalRow.release_id) == release_id, col(ApprovalRow.posted_at).is_(None))
        .values(posted_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def approval_of(database: Database, release_id: str) -> Approval | None:
    async with database.read() as session:
        query = select(ApprovalRow).where(col(ApprovalRow.release_id) == release_id)
        row = (await session.execute(query)).scalars().first()
        return None if row is None else await _with_votes(session, row)


async def unposted(database: Database, *, limit: int = 50) -> list[str]:
    """Releases whose approval request is still to be posted, oldest first."""
    query = (
        select(col(ApprovalRow.release_id))
        .where(col(ApprovalRow.posted_at).is_(None))
        .order_by(col(ApprovalRow.requested_at))
        .limit(limit)
    )
    async with database.read() as session:
        return [str(release_id) for (release_id,) in await session.execute(query)]


async def waiting(database: Database, *, limit: int = 50) -> list[str]:
    """Releases whose approval request still waits for a decision, oldest first."""
    query = (
        select(col(ApprovalRow.release_id))
        .where(col(ApprovalRow.state) == State.WAITING.value)
        .order_by(col(ApprovalRow.requested_at))
        .limit(limit)
    )
    async with database.read() as session:
        return [str(release_id) for (release_id,) in await session.execute(query)]


async def _with_votes(session: AsyncSession, row: ApprovalRow) -> Approval:
    query = (
        select(ApprovalVoteRow)
        .where(col(ApprovalVoteRow.release_id) == row.release_id)
        .order_by(col(ApprovalVoteRow.at), col(ApprovalVoteRow.user))
    )
    votes = tuple(
        Vote(vote.user, vote.approve, vote.at, tuple(vote.via), vote.reason)
        for vote in (await session.execute(query)).scalars()
    )
    need = Need(Tier(row.tier), row.needed, row.distinct_groups, row.review)
    return Approval(
        release_id=row.release_id,
        need=need,
        state=State(row.state),
        votes=votes,
        decided_at=row.decided_at,
        posted=row.posted_at is not None,
    )
