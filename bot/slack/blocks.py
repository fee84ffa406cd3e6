"""Pure Block Kit builders for Herald's release messages (docs/design.md §3). No I/O."""

from __future__ import annotations

from typing import Any

from bot.domain.incident.card import IncidentCard
from bot.domain.notes.release_notes import build_notes_for_release
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, NoticeKind, Release
from bot.domain.release.notices import MAX_CHANGES_INLINE
from bot.domain.text import display_version, format_duration, truncate
from bot.slack.approval_card import approval_message
from bot.slack.incident_view import incident_actions, retro_button, state_line
from bot.slack.layout import (
    MAX_FALLBACK_CHARS,
    MAX_MESSAGE_BLOCKS,
    Block,
    format_more,
    pack_sections,
    section,
)
from bot.slack.mrkdwn import escape_mrkdwn, render
from bot.slack.notes import render_notes_mrkdwn
from bot.slack.reports import report_lines
from bot.slack.views import rollback_button

EMOJI = {
    EventType.PLANNED: ":calendar:",
    EventType.STARTED: ":hourglass_flowing_sand:",
    EventType.DEPLOYED: ":rocket:",
    EventType.FAILED: ":warning:",
    EventType.ROLLED_BACK: ":rewind:",
    EventType.RECOVERED: ":white_check_mark:",
}
Message = dict[str, Any]


def render_notice(notice: Notice) -> Message:
    """The Slack message for a notice: blocks, a plain-text fallback and event metadata."""
    if notice.kind is NoticeKind.APPROVAL:
        return approval_message(notice.report)
    if notice.kind is NoticeKind.CHECKUP:
        lines = report_lines(notice.report)
        return {
            "text": truncate("\n".join(lines), MAX_FALLBACK_CHARS),
            "blocks": [*_sections(lines), *_rollback(notice)],
            "metadata": {
                "event_type": "herald_checkup",
                "event_payload": {
                    "id": notice.release.id,
                    "color": notice.report.verdict.color.value,
                },
            },
        }
    if notice.payload is None:
        text = render(notice.text)
        if notice.kind is NoticeKind.RELEASE_NOTES:
            notes = build_notes_for_release(notice.release, audience="internal")
            text = render_notes_mrkdwn(notes)
        lines = text.splitlines() or ["(empty note)"]
        return {
            "text": truncate(text, MAX_FALLBACK_CHARS),
            "blocks": [*_sections(lines), *_rollback(notice), *_retro(notice)],
            "metadata": {
                "event_type": f"herald_{notice.kind.value}",
                "event_payload": {"id": notice.release.id},
            },
        }
    blocks_extra: list[Block] = []
    if notice.kind is NoticeKind.DETAILS:
        lines = detail_lines(notice.release)
    elif notice.kind is NoticeKind.INCIDENT:
        lines = [header_line(notice), *incident_lines(notice)]
        card: IncidentCard | None = notice.report
        if card is not None:
            lines.append(state_line(card))
        if card is None or not card.recovered:
            commanded = bool(notice.payload.details.get("commander"))
            blocks_extra.append(incident_actions(notice.release.id, commanded=commanded))
    else:
        lines = [header_line(notice), *event_lines(notice)]
    return {
        "text": truncate("\n".join(lines), MAX_FALLBACK_CHARS),
        "blocks": [*_sections(lines), *blocks_extra],
        "metadata": {
            "event_type": notice.payload.event.value.replace(".", "_"),
            "event_payload": notice.payload.flat(),
        },
    }


def _rollback(notice: Notice) -> list[Block]:
    """Roll back… where the decision is made: under a red checkup or early-watch report."""
    if not notice.offers_rollback:
        return []
    release = notice.release
    return [{"type": "actions", "elements": [rollback_button(release.service, release.env)]}]


def _retro(notice: Notice) -> list[Block]:
    """The retro reminder carries Retro done."""
    return [retro_button(notice.release.id)] if notice.kind is NoticeKind.RETRO else []


def header_line(notice: Notice) -> str:
    """`:rocket: release.deployed | webapp | prod | v1.42.0 (rel-2025-10-02.3)`."""
    assert notice.payload is not None
    release, event = notice.release, notice.payload.event
    fields = (release.service, release.env, display_version(release.version))
    text = " | ".join([event.value, *fields])
    return f"{EMOJI[event]} {escape_mrkdwn(text)} ({escape_mrkdwn(release.id)})"


def event_lines(notice: Notice) -> list[str]:
    """The template lines under the header of a feed (or ops thread) event message."""
    release, payload = notice.release, notice.payload
    assert payload is not None
    details = payload.details
    owner = f"Owner: @{escape_mrkdwn(release.owner)}"
    rollback = f"Rollback: {_version_or_na(release.rollback_target)}"
    first: list[str]
    match payload.event:
        case EventType.PLANNED:
            first = [owner, rollback]
            if release.manifest.risk:
                first.append(f"Risk: {release.manifest.risk.value}")
        case EventType.DEPLOYED:
            lead = details.get("lead_time_seconds")
            first = [f"Lead time: {_duration_or_na(lead)}", owner, rollback]
        case EventType.FAILED:
            first = [f"Symptom: {_detail(details, 'symptom')}", owner, rollback]
        case EventType.ROLLED_BACK:
            target = details.get("to_version") or release.rollback_target
            first = [f"Rolled back to: {_version_or_na(target)}", owner]
        case EventType.RECOVERED:
            first = [f"Time to recover: {_duration_or_na(details.get('mttr_seconds'))}", owner]
        case _:
            first = [owner, rollback]
    if reason := details.get("reason"):
        first.append(f"Reason: {escape_mrkdwn(str(reason))}")
    if actor := details.get("actor"):
        first.append(f"By: {_person(str(actor))}")
    return [f"- {' | '.join(first)}", changes_line(release), links_line(release, payload.links)]


def incident_lines(notice: Notice) -> list[str]:
    """The incident template that opens a failed release's thread in the ops channel."""
    assert notice.payload is not None
    details, release = notice.payload.details, notice.release
    commander = details.get("commander")
    return [
        f"- Symptom: {_detail(details, 'symptom')} | PagerDuty: {_detail(details, 'pagerduty')}",
        f"- Blast radius: {_detail(details, 'blast_radius')} | Flag state: {_flag_state(notice)}",
        f"- Next: {_detail(details, 'next')} | ETA: {_detail(details, 'eta')}",
        f"- Incident commander: {_person(commander) if commander else 'unassigned'}"
        f" | Owner: @{escape_mrkdwn(release.owner)}",
    ]


def changes_line(release: Release) -> str:
    changes = release.manifest.changes
    shown = [escape_mrkdwn(truncate(_change_text(c), 160)) for c in changes[:MAX_CHANGES_INLINE]]
    more = len(changes) - len(shown)
    text = "; ".join(shown) or "none listed"
    if more > 0:
        text += f"; {format_more(more)} (see thread)"
    return f"- Changes: {text}"


def links_line(release: Release, links: dict[str, str]) -> str:
    parts = []
    if run := links.get("run"):
        parts.append(f"run ▶️ {_link(run)}")
    if notes := links.get("changelog") or links.get("notes"):
        parts.append(f"notes 📝 {_link(notes)}")
    issues = release.manifest.all_issues()
    if issues:
        parts.append(f"issues 🔗 {escape_mrkdwn(', '.join(issues[:10]))}")
        if len(issues) > 10:
            parts[-1] += f" {format_more(len(issues) - 10)}"
    return f"- Links: {' | '.join(parts) or 'none'}"


def detail_lines(release: Release) -> list[str]:
    """The thread reply with what the feed template leaves out: every change, flags, links."""
    manifest = release.manifest
    lines = [f":page_facing_up: Details of {escape_mrkdwn(release.id)}"]
    if manifest.changes:
        lines.append(f"*Changes ({len(manifest.changes)})*")
        lines += [f"• {escape_mrkdwn(truncate(_change_text(c), 300))}" for c in manifest.changes]
    if manifest.flags:
        lines.append(f"*Flags*: {escape_mrkdwn(', '.join(manifest.flag_keys()))}")
    links = release.links()
    if links:
        lines.append(
            "*Links*: " + " | ".join(f"{escape_mrkdwn(k)} {_link(v)}" for k, v in links.items())
        )
    return lines


def _sections(lines: list[str]) -> list[Block]:
    """The lines in sections, leaving room for one more block (the incident's button); when
    cut, the last section ends with "…and N more". No lines: one empty section."""
    blocks = pack_sections([("", lines)], max_blocks=MAX_MESSAGE_BLOCKS - 1, more_inline=True)
    return blocks or [section("")]


def _change_text(change: Any) -> str:
    scope = f"({change.scope})" if change.scope else ""
    breaking = "!" if change.breaking else ""
    return f"{change.type}{scope}{breaking}: {change.summary}"


def _link(url: str) -> str:
    return f"<{escape_mrkdwn(url).replace('|', '%7C')}>"


def _detail(details: dict[str, Any], key: str) -> str:
    value = details.get(key)
    return escape_mrkdwn(str(value)) if value else "unknown"


def _flag_state(notice: Notice) -> str:
    if notice.payload and (state := notice.payload.details.get("flag_state")):
        return escape_mrkdwn(str(state))
    flags = notice.release.manifest.flag_keys()
    return escape_mrkdwn(", ".join(f"{f}=?" for f in flags[:5])) if flags else "no flags"


def _person(value: str) -> str:
    """A Slack user id becomes a mention; anything else is shown as escaped text."""
    if value[:1] in "UW" and value.isalnum() and value.isupper():
        return f"<@{value}>"
    return escape_mrkdwn(value)


def _version_or_na(version: str | None) -> str:
    return escape_mrkdwn(display_version(version)) if version else "n/a"


def _duration_or_na(seconds: Any) -> str:
    return format_duration(float(seconds)) if isinstance(seconds, int | float) else "n/a"
