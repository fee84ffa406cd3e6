"""Go/no-go tables: a release's approval request and the approvers' votes on it
(bot/store/approvals.py). Imported by bot/store/tables.py, which registers every table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from bot.store.types import utc_field


class ApprovalRow(SQLModel, table=True):
    """One per release that needs approval, opened with the release; locked by each vote."""

    __tablename__ = "approvals"

    release_id: str = Field(primary_key=True, max_length=128)
    tier: str = Field(max_length=16)
    needed: int
    distinct_groups: bool
    review: bool  # an emergency: flagged for a post-release review
    state: str = Field(max_length=16, index=True)  # waiting, approved, rejected
    requested_at: datetime = utc_field()
    posted_at: datetime | None = utc_field(nullable=True, index=True)  # the request message queued
    decided_at: datetime | None = utc_field(nullable=True)


class ApprovalVoteRow(SQLModel, table=True):
    """One approver's vote: a second click by the same person finds it and counts nothing."""

    __tablename__ = "approval_votes"

    release_id: str = Field(primary_key=True, max_length=128)
    user: str = Field(primary_key=True, max_length=64)
    approve: bool
    reason: str = Field(default="", max_length=500)
    via: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    at: datetime = utc_field()
