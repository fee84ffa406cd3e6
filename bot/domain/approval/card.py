"""What an approval request shows and the messages a decision causes (data only; the Slack
adapter renders the card, bot/slack/approval_card.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.approval.checklist import Check
from bot.domain.approval.votes import Approval, State
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import Code, Emoji, Text, User, join, text

REQUEST_KEY = "approval_request"  # the request message the release owns


@dataclass(frozen=True)
class ApprovalCard:
    release: Release
    approval: Approval
    approvers: tuple[str, ...]
    checks: tuple[Check, ...]
    checked_at: datetime


def request_notice(card: ApprovalCard, *, update: bool = False) -> Notice:
    """The request message; `update`: its new content, edited in place."""
    return Notice(
        NoticeKind.APPROVAL,
        Audience.APPROVALS,
        card.release,
        None,
        report=card,
        key=REQUEST_KEY,
        replaces=update,
    )


def decision_note(release: Release, approval: Approval) -> Notice:
    """The reply under the release's feed card once the approvers have decided."""
    what = Code(f"{release.service} {release.env} {release.version}")
    if approval.state is State.REJECTED and (rejection := approval.rejection) is not None:
        said = text(
            Emoji("no_entry"), " ", what, " was rejected by ", User(rejection.user),
            f": {rejection.reason}",
        )  # fmt: skip
        return Notice.note(release, said)
    said = text(
        Emoji("white_check_mark"), " ", what, " was approved by ", _approvers(approval),
        f" ({approval.need.tier.value} change).",
    )  # fmt: skip
    if approval.need.review:
        said += " Emergency change: flagged for a post-release review."
    return Notice.note(release, said)


def standing(approval: Approval) -> Text:
    """`Approved by @a`, `1 of 2 approvals: @a`, `Rejected by @b: why`."""
    if approval.state is State.REJECTED and (rejection := approval.rejection) is not None:
        return text("Rejected by ", User(rejection.user), f": {rejection.reason}")
    if approval.state is State.APPROVED:
        return text("Approved by ", _approvers(approval))
    have = f"{len(approval.approvals)} of {approval.need.count} approvals"
    return text(have, ": " if approval.approvals else "", _approvers(approval))


def _approvers(approval: Approval) -> Text:
    return join(", ", [User(vote.user) for vote in approval.approvals])
