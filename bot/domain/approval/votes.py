"""Approvers' votes on one release and what they add up to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import combinations

from bot.domain.approval.policy import Need


class State(StrEnum):
    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Vote:
    """One approver's decision. `via`: the approver entries (the user, or the user groups)
    that made them an approver, for the two-from-different-groups rule."""

    user: str
    approve: bool
    at: datetime
    via: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class Approval:
    """A release's approval request: what it needs, the votes, and how it stands."""

    release_id: str
    need: Need
    state: State = State.WAITING
    votes: tuple[Vote, ...] = ()
    decided_at: datetime | None = None
    posted: bool = False

    @property
    def approvals(self) -> tuple[Vote, ...]:
        return tuple(vote for vote in self.votes if vote.approve)

    @property
    def rejection(self) -> Vote | None:
        return next((vote for vote in self.votes if not vote.approve), None)

    def vote_of(self, user: str) -> Vote | None:
        return next((vote for vote in self.votes if vote.user == user), None)

    def with_vote(self, vote: Vote) -> Approval:
        """The request with `vote` added, decided when the votes settle it."""
        votes = (*self.votes, vote)
        state = tally(self.need, votes)
        decided = vote.at if state is not State.WAITING else None
        return Approval(self.release_id, self.need, state, votes, decided, self.posted)


def tally(need: Need, votes: Sequence[Vote]) -> State:
    """Any rejection rejects; enough approvals approve (from different approvers when the
    policy says so: two votes both only through the same group count once)."""
    if any(not vote.approve for vote in votes):
        return State.REJECTED
    approvals = [vote for vote in votes if vote.approve]
    if len(approvals) < need.count:
        return State.WAITING
    if not need.distinct:
        return State.APPROVED
    for group in combinations(approvals, need.count):
        if _distinct_entries(group):
            return State.APPROVED
    return State.WAITING


def _distinct_entries(votes: Sequence[Vote], taken: frozenset[str] = frozenset()) -> bool:
    """Each vote can be credited to an approver entry no other vote in `votes` uses."""
    if not votes:
        return True
    first, rest = votes[0], votes[1:]
    return any(
        _distinct_entries(rest, taken | {entry}) for entry in first.via if entry not in taken
    )
