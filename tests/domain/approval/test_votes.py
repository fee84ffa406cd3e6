"""How approvers' votes add up: one rejection rejects; two approvals from different approver
groups approve a CAB change; two people through the same single group do not."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.approval.policy import Need, Tier
from bot.domain.approval.votes import State, Vote, tally

AT = datetime(2026, 12, 4, 10, tzinfo=UTC)
CAB = Need(Tier.NORMAL, count=2, distinct=True, review=False)
ONE = Need(Tier.NORMAL, count=1, distinct=False, review=False)


def yes(user: str, *via: str) -> Vote:
    return Vote(user, True, AT, via or (user,))


def test_one_approver_approves_a_normal_change() -> None:
    assert tally(ONE, [yes("U0A")]) is State.APPROVED
    assert tally(ONE, []) is State.WAITING


def test_two_leads_through_the_same_group_are_one_group_of_a_cab() -> None:
    assert tally(CAB, [yes("U0A", "S0LEADS"), yes("U0B", "S0LEADS")]) is State.WAITING
    assert tally(CAB, [yes("U0A", "S0LEADS"), yes("U0C", "S0SRE")]) is State.APPROVED


def test_someone_in_both_groups_lets_the_other_group_count() -> None:
    both = yes("U0A", "S0LEADS", "S0SRE")
    assert tally(CAB, [both, yes("U0B", "S0LEADS")]) is State.APPROVED  # A as SRE, B as lead
    assert tally(CAB, [both]) is State.WAITING  # one person is never two approvers


def test_a_rejection_rejects_whatever_was_approved_before() -> None:
    no = Vote("U0C", False, AT, ("S0SRE",), "Load test not run")
    assert tally(CAB, [yes("U0A", "S0LEADS"), no]) is State.REJECTED
