"""Pure text for checkup reports: the compact health table posted in a release's threads."""

from __future__ import annotations

from bot.domain.checkup.checkup import CheckupReport
from bot.domain.checkup.verdict import Color, Signal
from bot.domain.text import format_duration
from bot.slack.mrkdwn import escape_mrkdwn

COLOR_EMOJI = {
    Color.GREEN: ":large_green_circle:",
    Color.YELLOW: ":large_yellow_circle:",
    Color.RED: ":red_circle:",
    Color.UNKNOWN: ":white_circle:",
}
SHOWN_OUTCOMES = ("FAIL", "WARN", "INCONCLUSIVE", "ERROR")


def report_lines(report: CheckupReport) -> list[str]:
    verdict, checkup = report.verdict, report.checkup
    head = (
        f"{COLOR_EMOJI[verdict.color]} Checkup {checkup.label} of "
        f"{escape_mrkdwn(checkup.release_id)}: *{verdict.color.value.upper()}*"
    )
    if report.late_by is not None:
        late = format_duration(report.late_by.total_seconds())
        head += f" (ran {late} late: Herald was not running when it fell due)"
    if verdict.low_confidence and verdict.color is Color.GREEN:
        head += " · low confidence: little traffic, so only gross regressions would show"
    lines = [head]
    if verdict.signals:
        lines.append("signal · baseline → now · verdict")
        lines += [
            f"• {escape_mrkdwn(s.metric)}: {escape_mrkdwn(s.baseline)} → {escape_mrkdwn(s.now)}"
            f" · {s.outcome.lower()}"
            for s in verdict.signals
        ]
    findings = [f for f in verdict.findings if f.outcome in SHOWN_OUTCOMES]
    lines += [
        f"{f.rule} {escape_mrkdwn(f.metric)}: {escape_mrkdwn(f.detail)}" for f in findings[:12]
    ]
    lines += [escape_mrkdwn(action) for action in report.actions]
    return lines


def _signal_line(signal: Signal) -> str:
    metric, before, now = (escape_mrkdwn(x) for x in (signal.metric, signal.baseline, signal.now))
    return f"• {metric}: {before} → {now} · {signal.outcome.lower()}"


def status_line(color: Color | None, label: str | None, next_label: str | None) -> str:
    """`Checkups: last +15m GREEN · next +30m`, for `/deploy status`."""
    parts = []
    if color and label:
        emoji = COLOR_EMOJI.get(color, "")
        parts.append(f"last {label} {emoji} {color.upper()}")
    parts.append(f"next {next_label}" if next_label else "none pending")
    return "Checkups: " + " · ".join(parts)
