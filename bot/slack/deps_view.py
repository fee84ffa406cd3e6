"""`/deploy deps <service>`: what it requires and who requires it (pure Block Kit)."""

from __future__ import annotations

from typing import Any

from bot.domain.dependencies.graph import DependencyReport, Needed
from bot.domain.text import display_version, truncate
from bot.slack.layout import MAX_FALLBACK_CHARS, MAX_MESSAGE_BLOCKS, pack_sections
from bot.slack.mrkdwn import escape_mrkdwn


def deps_message(report: DependencyReport, *, public: bool = False) -> dict[str, Any]:
    service = escape_mrkdwn(report.service)
    needs = [_requires(needed) for needed in report.requires]
    dependents = [_required_by(needed) for needed in report.required_by]
    groups = [
        (f"*{service} requires*", needs or ["nothing (no `requires` in its newest releases)"]),
        ("*Required by*", dependents or [f"no other service's newest release requires {service}"]),
    ]
    blocks = pack_sections(groups, max_blocks=MAX_MESSAGE_BLOCKS, noun="requirement")
    plain = (
        f"Dependencies of {report.service}: requires {len(needs)}, required by {len(dependents)}"
    )
    return {
        "response_type": "in_channel" if public else "ephemeral",
        "text": truncate(plain, MAX_FALLBACK_CHARS),
        "blocks": blocks,
    }


def _requires(needed: Needed) -> str:
    release, need = needed.release, needed.requirement
    mark = ":white_check_mark:" if needed.met else ":x:"
    what = f"{need.service} {need.version} in {needed.env}"
    mine = f"{release.env} {display_version(release.version)}"
    return (
        f"{mark} `{escape_mrkdwn(what)}` for {escape_mrkdwn(mine)}"
        f" — {escape_mrkdwn(needed.reason.message)}"
    )


def _required_by(needed: Needed) -> str:
    release, need = needed.release, needed.requirement
    mark = ":white_check_mark:" if needed.met else ":x:"
    who = f"{release.service} {display_version(release.version)} ({release.env})"
    return (
        f"{mark} `{escape_mrkdwn(who)}` needs {escape_mrkdwn(need.version)} in"
        f" {escape_mrkdwn(needed.env)} — {escape_mrkdwn(needed.reason.message)}"
    )
