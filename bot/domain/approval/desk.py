"""Go/no-go use cases: post a release's approval request, and count an approver's vote.

Each vote is counted inside one transaction that locks the request, so a double-click, or
the same click reaching two replicas, counts once, and the decision is made and replied into
the release's thread once."""

from __future__ import annotations

import logging

from bot.domain.approval.card import ApprovalCard, decision_note, request_notice, standing
from bot.domain.approval.checklist import Check, evaluate_readiness
from bot.domain.approval.policy import ApprovalPolicy
from bot.domain.approval.votes import Approval, State, Vote
from bot.domain.deploy.context import Operations, Reply, audit_release
from bot.domain.ports import Ledger
from bot.domain.release.model import Release
from bot.domain.services.access import GroupLookupError
from bot.domain.text import Group, Text, User, join, text

log = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, said: Text) -> None:
        super().__init__(said.plain())
        self.said = said


async def post_approval_requests(ops: Operations) -> int:
    """Post each approval request not posted yet (once across replicas); how many."""
    posted = 0
    for release_id in await ops.releases.approvals_to_post():
        release = await ops.releases.by_id(release_id)
        if release is not None:
            posted += await _post_request(ops, release, await _readiness(ops, release))
    return posted


async def _post_request(ops: Operations, release: Release, checks: tuple[Check, ...]) -> int:
    async with ops.ledgers() as ledger:
        approval = await ledger.lock_approval(release.id)
        if approval is None or not await ledger.claim_approval_post(release.id):
            return 0
        await ledger.enqueue([request_notice(_card(ops, release, approval, checks))])
        return 1


async def cast_vote(
    ops: Operations, *, actor: str, release_id: str, approve: bool, reason: str = ""
) -> Reply:
    """`actor` approves (or rejects, saying why) the release: counted once, decided once."""
    release = await ops.releases.by_id(release_id)
    policy = ops.directory.approval_policy(release.service) if release else None
    if release is None or policy is None:
        return Reply(False, text(f"{release_id} needs no approval (no policy covers it)."))
    action = "approve" if approve else "reject"
    try:
        via = await _approver(ops, release, policy, actor=actor, approve=approve, reason=reason)
    except Refused as refused:
        await audit_release(
            ops, actor=actor, action=action, release=release, detail=refused.said.plain(),
            allowed=False,
        )  # fmt: skip
        return Reply(False, refused.said)
    checks = await _readiness(ops, release)
    vote = Vote(actor, approve, ops.clock(), via, reason.strip())
    async with ops.ledgers() as ledger:
        reply = await _count(ledger, ops, release, vote, checks)
    if reply.ok:
        await audit_release(ops, actor=actor, action=action, release=release, detail=reason.strip())
    return reply


async def _count(
    ledger: Ledger, ops: Operations, release: Release, vote: Vote, checks: tuple[Check, ...]
) -> Reply:
    approval = await ledger.lock_approval(release.id)
    if approval is None:
        return Reply(False, text(f"{release.id} needs no approval."))
    if (mine := approval.vote_of(vote.user)) is not None:
        verb = "approved" if mine.approve else "rejected"
        return Reply(False, text(f"You {verb} it at {mine.at:%H:%M} UTC; counted once."))
    if approval.state is not State.WAITING:
        return Reply(False, text(f"Already {approval.state.value}: ", standing(approval), "."))
    counted = approval.with_vote(vote)
    await ledger.add_vote(approval=counted, vote=vote)
    notices = [request_notice(_card(ops, release, counted, checks), update=True)]
    if counted.state is not State.WAITING:
        notices.append(decision_note(release, counted))
    await ledger.enqueue(notices)
    return Reply(True, text(_done(vote, counted), standing(counted), "."))


def _done(vote: Vote, approval: Approval) -> str:
    if not vote.approve:
        return "Rejected. "
    return "Approved: the release may ship. " if approval.state is State.APPROVED else "Counted. "


async def _approver(
    ops: Operations,
    release: Release,
    policy: ApprovalPolicy,
    *,
    actor: str,
    approve: bool,
    reason: str,
) -> tuple[str, ...]:
    """The approver entries `actor` is one through; Refused when they may not decide."""
    if not approve and not reason.strip():
        raise Refused(text("Write why in the Reason box, then press Reject."))
    if actor in (release.manifest.author, release.owner):
        raise Refused(text("You asked for this release: someone else must approve it."))
    via = [entry for entry in policy.approvers if entry == actor]
    failed = []
    for group in (entry for entry in policy.approvers if entry.startswith("S")):
        try:
            if actor in await ops.groups.members(group):
                via.append(group)
        except GroupLookupError as exc:
            log.warning("approver group unknown: %s", exc, extra={"group": group})
            failed.append(group)
    if via:
        return tuple(via)
    if failed:
        raise Refused(
            text("Herald could not check ", join(", ", [Group(g) for g in failed]),
                 "; nothing was counted. Try again in a minute.")
        )  # fmt: skip
    who = join(", ", [Group(e) if e.startswith("S") else User(e) for e in policy.approvers])
    raise Refused(text(f"Only the approvers of {release.service} decide: ", who, "."))


async def _readiness(ops: Operations, release: Release) -> tuple[Check, ...]:
    policy = ops.directory.approval_policy(release.service) or ApprovalPolicy(approvers=())
    return await evaluate_readiness(
        release=release,
        policy=policy,
        releases=ops.releases,
        freezes=await ops.freezes.calendar(now=ops.clock()),
        burn=ops.burn,
        now=ops.clock(),
    )


def _card(
    ops: Operations, release: Release, approval: Approval, checks: tuple[Check, ...]
) -> ApprovalCard:
    policy = ops.directory.approval_policy(release.service)
    approvers = policy.approvers if policy else ()
    return ApprovalCard(release, approval, approvers, checks, ops.clock())
