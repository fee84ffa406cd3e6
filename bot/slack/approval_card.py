"""The approval request message (pure Block Kit): what ships, its risk and rollback plan,
the readiness checklist, the votes, and Approve / Reject with a reason box while it waits."""

from __future__ import annotations

from typing import Any

from bot.domain.approval.card import ApprovalCard, standing
from bot.domain.approval.checklist import Check
from bot.domain.approval.votes import State
from bot.domain.text import Group, User, display_version, text, truncate
from bot.slack.ids import ActionId, BlockId, ReleaseValue
from bot.slack.layout import MAX_FALLBACK_CHARS, Block, button, format_more, section
from bot.slack.mrkdwn import escape_mrkdwn, local_time, render

CHANGES_SHOWN = 5
MARK = {True: ":white_check_mark:", False: ":x:", None: ":grey_question:"}
HEAD = {
    State.WAITING: ":raised_hand: *Approval needed*",
    State.APPROVED: ":white_check_mark: *Approved*",
    State.REJECTED: ":no_entry: *Rejected*",
}


def approval_message(card: ApprovalCard) -> dict[str, Any]:
    release, approval = card.release, card.approval
    what = f"{release.service} {release.env} {display_version(release.version)}"
    head = f"{HEAD[approval.state]} — `{escape_mrkdwn(what)}` ({escape_mrkdwn(release.id)})"
    blocks = [
        section(head),
        section("\n".join(_summary(card))),
        section("*Readiness* (checked " + local_time(card.checked_at) + ")\n" + _checks(card)),
        section(render(standing(approval))),
    ]
    if approval.state is State.WAITING:
        blocks += [_reason_box(), _actions(release.id)]
    plain = f"{HEAD[approval.state].split(' ', 1)[1].strip('*')}: {what} ({release.id})"
    return {
        "text": truncate(plain, MAX_FALLBACK_CHARS),
        "blocks": blocks,
        "metadata": {
            "event_type": "herald_approval",
            "event_payload": {"id": release.id, "state": approval.state.value},
        },
    }


def _summary(card: ApprovalCard) -> list[str]:
    manifest, need = card.release.manifest, card.approval.need
    lines = [f"*Risk*: {need.tier.value} — needs {escape_mrkdwn(need.describe())}"]
    if manifest.risk_notes:
        lines.append(f"*Risk notes*: {escape_mrkdwn(manifest.risk_notes)}")
    rollback = card.release.rollback_target
    plan = manifest.rollback.strategy if manifest.rollback else None
    target = display_version(rollback) if rollback else "the previous version"
    lines.append(f"*Rollback plan*: to {escape_mrkdwn(target)}" + (
        f" ({escape_mrkdwn(plan)})" if plan else ""
    ))  # fmt: skip
    changes = manifest.changes
    for change in changes[:CHANGES_SHOWN]:
        lines.append(f"• {escape_mrkdwn(change.type)}: {escape_mrkdwn(change.summary)}")
    if len(changes) > CHANGES_SHOWN:
        lines.append(format_more(len(changes) - CHANGES_SHOWN, noun="change"))
    approvers = ", ".join(_principal(entry) for entry in card.approvers)
    lines.append(f"*Approvers*: {approvers or 'none'}")
    return lines


def _checks(card: ApprovalCard) -> str:
    return "\n".join(_check(check) for check in card.checks)


def _check(check: Check) -> str:
    return f"{MARK[check.ok]} {escape_mrkdwn(check.message)}"


def _principal(entry: str) -> str:
    return render(text(Group(entry) if entry.startswith("S") else User(entry)))


def _reason_box() -> Block:
    return {
        "type": "input",
        "block_id": BlockId.APPROVAL_REASON,
        "optional": True,
        "label": {"type": "plain_text", "text": "Reason (needed to reject)"},
        "element": {"type": "plain_text_input", "action_id": ActionId.REASON, "max_length": 500},
    }


def _actions(release_id: str) -> Block:
    value = ReleaseValue(release_id=release_id).dump()
    approve = button("Approve", ActionId.APPROVE, value, style="primary")
    reject = button("Reject", ActionId.REJECT, value, style="danger")
    return {"type": "actions", "block_id": BlockId.APPROVAL_ACTIONS, "elements": [approve, reject]}
