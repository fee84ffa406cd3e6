"""What the gate says about a release's go/no-go approval."""

from __future__ import annotations

from bot.domain.approval.votes import Approval, State
from bot.domain.gate.reason import Reason
from bot.domain.release.manifest import Risk
from bot.domain.release.model import Release
from bot.domain.text import utc_stamp


def approval_reasons(approval: Approval | None, release: Release) -> tuple[Reason, ...]:
    """Pre-approved, waiting (for how many), approved (by whom), or rejected (by whom, why);
    an approved emergency is also flagged for its post-release review."""
    if approval is None:
        if release.manifest.risk is Risk.STANDARD:
            return (Reason("pre_approved", "A standard change: pre-approved."),)
        return (Reason("approval_not_required", "No approval policy covers it."),)
    if approval.state is State.REJECTED and (rejection := approval.rejection) is not None:
        said = f"Rejected by {rejection.user} at {utc_stamp(rejection.at)}: {rejection.reason}"
        return (Reason("rejected", said),)
    who = ", ".join(vote.user for vote in approval.approvals)
    if approval.state is State.WAITING:
        have = f"; has {len(approval.approvals)} ({who})" if who else "; has none yet"
        said = f"A {approval.need.tier.value} change: needs {approval.need.describe()}{have}."
        return (Reason("approval_waiting", said),)
    at = utc_stamp(approval.decided_at) if approval.decided_at else "?"
    approved = Reason("approved", f"Approved by {who} at {at}.")
    if approval.need.review:
        review = "An emergency change: flagged for a post-release review."
        return approved, Reason("post_release_review", review)
    return (approved,)
