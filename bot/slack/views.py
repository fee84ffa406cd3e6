"""Pure builders for what `/deploy` answers with. No I/O; every user string escaped, every
domain text rendered by `bot.slack.mrkdwn`."""

from __future__ import annotations

from typing import Any

from bot.domain.deploy.caution import PromoteCaution
from bot.domain.deploy.context import Reply
from bot.domain.deploy.promote import describe
from bot.domain.deploy.rollback import RollbackPlan
from bot.domain.deploy.status import StatusReport
from bot.domain.release.model import Release
from bot.domain.services.oncall import mention_all
from bot.domain.text import Text, display_version, truncate
from bot.slack.ids import (
    ActionId,
    BlockId,
    CancelValue,
    PromoteValue,
    RollbackValue,
    TargetValue,
)
from bot.slack.layout import MAX_CONFIRM_CHARS, Block, button, format_more, section
from bot.slack.mrkdwn import escape_mrkdwn, local_time, render
from bot.slack.reports import status_line

USAGE = (
    "`/deploy status [service] [env]` · `/deploy pause <service> [env]` · "
    "`/deploy promote <service> [env] [NN%|full]` · "
    "`/deploy rollback <service> [env] [version|sha]` · "
    "`/deploy metrics [service] [env] [30d]` · `/deploy calendar [service] [weeks]` · "
    "`/deploy freeze <service|all> [env] <2h|until TIME> <reason>` · "
    "`/deploy unfreeze <service|all> [env]` · `/deploy deps <service>` · `/deploy help`"
)
Message = dict[str, Any]


def help_message(services: list[str], *, problem: Text | None = None) -> Message:
    known = ", ".join(escape_mrkdwn(s) for s in services) or "none configured yet (HERALD_CONFIG)"
    text = f"*Herald* — release commands\n{USAGE}\nKnown services: {known}"
    if problem:
        text = f":warning: {render(problem)}\n\n{text}"
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [section(text, block_id=BlockId.HELP)],
    }


def reply_message(reply: Reply, *, public: bool = False, replace: bool = False) -> Message:
    return answer_message(render(reply.text), public=public, replace=replace)


def answer_message(text: str, *, public: bool = False, replace: bool = False) -> Message:
    """A reply of mrkdwn `text` worded here in the adapter (an internal error, a button
    Herald cannot read); `reply_message` for what the domain says."""
    message: Message = {
        "response_type": "in_channel" if public else "ephemeral",
        "text": text,
        "blocks": [section(text, block_id=BlockId.REPLY)],
    }
    if replace:
        message["replace_original"] = True
    return message


def status_message(report: StatusReport, *, public: bool) -> Message:
    where, release = report.where, report.release
    title = f"*{escape_mrkdwn(where.service)}* {escape_mrkdwn(where.env)}"
    if release is not None:
        title += (
            f" — {escape_mrkdwn(display_version(release.version))} "
            f"({escape_mrkdwn(release.id)}) · {release.state.short if release.state else 'new'}"
        )
    checkups = report.checkups
    lines = [
        title,
        *_freeze_lines(report),
        *_argo_lines(report),
        *_release_lines(release),
        *_rehearsal_lines(report),
        *_on_call_lines(report),
        status_line(checkups.last_color, checkups.last_label, checkups.next_label),
        _links_line(report.links),
    ]
    blocks: list[Block] = [section("\n".join(lines), block_id=BlockId.STATUS)]
    if report.problem is None and (report.rollout is not None or report.app is not None):
        blocks.append(_status_actions(report))
    text = "\n".join(lines)
    return {
        "response_type": "in_channel" if public else "ephemeral",
        "text": text,
        "blocks": blocks,
    }


def _freeze_lines(report: StatusReport) -> list[str]:
    """Each reader sees the end in their own time zone (Slack's date formatting)."""
    return [
        f":snowflake: *Frozen* until {local_time(freeze.end)}"
        f" — {escape_mrkdwn(freeze.name)}: {escape_mrkdwn(freeze.reason)}"
        for freeze in report.freezes
    ]


def _argo_lines(report: StatusReport) -> list[str]:
    if report.problem:
        return [f":warning: {escape_mrkdwn(report.problem)}"]
    lines = []
    if app := report.app:
        operation = f" · operation {app.operation_phase}" if app.operation_phase else ""
        auto = "on" if app.auto_sync else "off"
        revision = (app.revision or "?")[:7]
        lines.append(
            f"Argo CD: {app.sync_status} / {app.health_status} · revision {revision}"
            f" · auto-sync {auto}{operation}"
        )
    if rollout := report.rollout:
        lines.append(f"Rollout: {rollout.phase} · {describe(rollout)}")
    return lines


def _release_lines(release: Release | None) -> list[str]:
    if release is None:
        return ["No release recorded by Herald yet."]
    target = release.rollback_target
    rollback = escape_mrkdwn(display_version(target)) if target else "n/a"
    return [f"Owner: @{escape_mrkdwn(release.owner)} · Rollback target: {rollback}"]


def _rehearsal_lines(report: StatusReport) -> list[str]:
    said = report.rehearsal
    if said is None:
        return [] if report.release is None else ["Rollback not rehearsed in another env."]
    return [f"{escape_mrkdwn(said)}."]


def _on_call_lines(report: StatusReport) -> list[str]:
    if report.on_call:
        return [f"On call: {render(mention_all(report.on_call))} (PagerDuty)"]
    if report.on_call_problem:
        return [f":grey_question: On-call unknown: {escape_mrkdwn(report.on_call_problem)}"]
    return []


def _links_line(links: dict[str, str]) -> str:
    names = {"argocd": "Argo CD", "feed_root": "feed message", "ops_root": "ops thread"}
    parts = [f"<{escape_mrkdwn(url)}|{names.get(key, key)}>" for key, url in links.items()]
    return "Links: " + (" · ".join(parts) if parts else "none")


def _status_actions(report: StatusReport) -> Block:
    """Promote and pause act on a Rollout; an Argo CD app without one can still roll back."""
    service, env = report.where.service, report.where.env
    where = TargetValue(service=service, env=env)
    elements = [rollback_button(service, env)]
    if report.rollout is not None:
        promote = PromoteValue(service=service, env=env, seen=report.rollout.generation)
        elements[:0] = [
            button("Promote next step", ActionId.PROMOTE_NEXT, promote.dump(), style="primary"),
            button("Pause", ActionId.PAUSE, where.dump()),
        ]
    return {"type": "actions", "block_id": BlockId.STATUS_ACTIONS, "elements": elements}


def rollback_button(service: str, env: str) -> Block:
    """Roll back…: the usual confirm flow (the plan, then Roll back or Cancel)."""
    value = TargetValue(service=service, env=env).dump()
    return button("Roll back…", ActionId.ROLLBACK_START, value, style="danger")


def promote_message(answer: Reply | PromoteCaution, *, replace: bool = False) -> Message:
    """What `/deploy promote` answers: the outcome, or the caution with Promote anyway."""
    if isinstance(answer, Reply):
        return reply_message(answer, replace=replace)
    text = render(answer.text)
    where = answer.where
    anyway = PromoteValue(
        service=where.service,
        env=where.env,
        seen=answer.seen,
        kind=answer.goal.kind,
        weight=answer.goal.weight,
    )
    go = button("Promote anyway", ActionId.PROMOTE_ANYWAY, anyway.dump(), style="danger")
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            section(text, block_id=BlockId.PROMOTE_CAUTION),
            {"type": "actions", "elements": [go]},
        ],
        **({"replace_original": True} if replace else {}),
    }


def in_flight_message(releases: list[Release], *, public: bool) -> Message:
    if not releases:
        text = "No releases in flight."
    else:
        text = "*Releases in flight*\n" + "\n".join(
            f"• {escape_mrkdwn(r.service)} {escape_mrkdwn(r.env)} "
            f"{escape_mrkdwn(display_version(r.version))} ({escape_mrkdwn(r.id)}) — "
            f"{r.state.short if r.state else 'new'} · @{escape_mrkdwn(r.owner)}"
            for r in releases[:40]
        )
        if len(releases) > 40:
            text += f"\n{format_more(len(releases) - 40)}"
    return {
        "response_type": "in_channel" if public else "ephemeral",
        "text": text,
        "blocks": [section(text, block_id=BlockId.STATUS)],
    }


def rollback_confirm_message(plan: RollbackPlan) -> Message:
    summary = render(plan.summary)
    text = f":rewind: *Confirm rollback*\n{summary}"
    confirm = {
        "title": {"type": "plain_text", "text": "Roll back?"},
        "text": {"type": "mrkdwn", "text": truncate(summary, MAX_CONFIRM_CHARS)},
        "confirm": {"type": "plain_text", "text": "Roll back"},
        "deny": {"type": "plain_text", "text": "Keep it"},
        "style": "danger",
    }
    go = button(
        "Roll back", ActionId.ROLLBACK_CONFIRM, RollbackValue(plan=plan).dump(), style="danger"
    )
    go["confirm"] = confirm
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            section(text, block_id=BlockId.ROLLBACK_CONFIRM),
            {
                "type": "actions",
                "elements": [go, button("Cancel", ActionId.ROLLBACK_CANCEL, CancelValue().dump())],
            },
        ],
    }
