"""Pure Block Kit for `/deploy metrics [service] [env] [window]`: DORA with trends. No I/O."""

from __future__ import annotations

from typing import Any

from bot.domain.dora.report import DoraReport
from bot.domain.dora.text import (
    NOT_ENOUGH,
    format_cadence,
    format_count,
    format_trend,
    format_value,
)
from bot.slack.layout import Block, header, section
from bot.slack.mrkdwn import escape_mrkdwn

# One section per DORA metric; the weekly rate joins the daily one.
SECTIONS = (
    ("Deployment frequency", ("deploy_frequency_per_day",)),
    ("Lead time for changes", ("lead_time_median_s", "lead_time_p90_s")),
    ("Change failure rate", ("change_failure_rate",)),
    ("Time to restore", ("time_to_restore_median_s",)),
    ("Rework rate", ("rework_rate",)),
    ("Rollback rehearsed", ("rollback_rehearsed_rate",)),
)
_SHORT = {
    "deploy_frequency_per_day": "",
    "lead_time_median_s": "median ",
    "lead_time_p90_s": "p90 ",
    "change_failure_rate": "",
    "time_to_restore_median_s": "median ",
    "rework_rate": "",
    "rollback_rehearsed_rate": "",
}


def dora_message(report: DoraReport) -> dict[str, Any]:
    """Header, the window, one section per metric (value, what it rests on, trend against
    the previous window, or "not enough data"), and the definitions in a context line."""
    scope = " · ".join(
        [
            report.service or "all services",
            report.env or "all envs",
            f"last {report.window.label}",
        ]
    )
    window = report.window
    blocks: list[Block] = [
        header(f"DORA · {scope}"),
        _context(
            f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC · "
            f"trends against the {window.label} before"
        ),
    ]
    fallback = [f"DORA · {scope}"]
    for title, names in SECTIONS:
        lines = [_line(report, name, bold=True) for name in names]
        plain = [_line(report, name, bold=False) for name in names]
        extra = []
        if title == "Deployment frequency":
            extra.append(f"Cadence: {format_cadence(report)}")
        if title == "Time to restore" and report.open_failures:
            extra.append(f"{report.open_failures} failure(s) not recovered yet")
        text = "\n".join([f"*{title}*", *lines, *extra])
        blocks.append(section(text))
        fallback.append(f"{title}: " + "; ".join([*plain, *extra]))
    blocks.append(
        _context(
            "Lead time: commit → deployed. Change failure rate: deploys that failed or were "
            "rolled back, each once. Rework: emergency or rolled-back deploys. "
            f"Time to restore: failed → recovered. {NOT_ENOUGH.capitalize()} is shown rather "
            "than a number resting on too few releases."
        )
    )
    return {"text": escape_mrkdwn("\n".join(fallback)), "blocks": blocks}


def _line(report: DoraReport, name: str, *, bold: bool) -> str:
    figures = report.figures()
    figure = figures[name]
    value = format_value(figure)
    if bold:
        value = f"_{value}_" if figure.value is None else f"*{value}*"
    if name == "deploy_frequency_per_day":
        weekly = figures["deploy_frequency_per_week"]
        if weekly.value is not None:
            value += f" ({format_value(weekly)})"
    parts = [f"{_SHORT[name]}{value}", escape_mrkdwn(format_count(name, figure))]
    trend = format_trend(name, report)
    if trend:
        parts.append(trend)
    return " · ".join(parts)


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(text)}]}
