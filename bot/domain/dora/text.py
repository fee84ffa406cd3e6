"""DORA figures in words and numbers, for the CLI and Slack: plain text, no markup."""

from __future__ import annotations

from bot.domain.dora.report import Direction, DoraReport, Figure
from bot.domain.dora.window import MIN_CADENCE_DAYS
from bot.domain.text import format_duration

LABELS = {
    "deploy_frequency_per_day": "Deployment frequency",
    "deploy_frequency_per_week": "Deployment frequency, weekly",
    "lead_time_median_s": "Lead time, median",
    "lead_time_p90_s": "Lead time, p90",
    "change_failure_rate": "Change failure rate",
    "time_to_restore_median_s": "Time to restore, median",
    "rework_rate": "Rework rate",
    "rollback_rehearsed_rate": "Rollback rehearsed",
}
_COUNTED = {
    "deploy_frequency_per_day": "deploys",
    "deploy_frequency_per_week": "deploys",
    "lead_time_median_s": "lead times",
    "lead_time_p90_s": "lead times",
    "change_failure_rate": "deploys",
    "time_to_restore_median_s": "restores",
    "rework_rate": "deploys",
    "rollback_rehearsed_rate": "production deploys",
}
_COUNTED_ON_TOP = {
    "change_failure_rate": "failed",
    "rework_rate": "rework",
    "rollback_rehearsed_rate": "rehearsed",
}
ARROWS = {Direction.UP: "↑", Direction.DOWN: "↓", Direction.FLAT: "→"}
NOT_ENOUGH = "not enough data"


def format_value(figure: Figure) -> str:
    """`0.33/day`, `2.3/week`, `8h 20m`, `12.5%`; `not enough data` without a value."""
    value = figure.value
    if value is None:
        return NOT_ENOUGH
    if figure.unit == "per day":
        return f"{value:.2f}/day"
    if figure.unit == "per week":
        return f"{value:.1f}/week"
    if figure.unit == "seconds":
        return format_duration(value)
    if figure.unit == "ratio":
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def format_count(name: str, figure: Figure) -> str:
    """What the figure rests on: `3 failed of 10 deploys`, `4 restores (needs 3)`."""
    noun = _COUNTED.get(name, "")
    text = f"{figure.count} {noun}".strip()
    if figure.numerator is not None and name in _COUNTED_ON_TOP:
        text = f"{figure.numerator} {_COUNTED_ON_TOP[name]} of {text}"
    if not figure.enough and figure.needs:
        text += f", needs {figure.needs}"
    return text


def format_trend(name: str, report: DoraReport) -> str:
    """`↑ from 0.13/day, better`, `→ about 1.00/day`; empty where nothing compares."""
    change = report.trends()[name]
    before = report.previous.figures()[name] if report.previous else None
    if change.direction is None or before is None:
        return ""
    was = format_value(before)
    if change.direction is Direction.FLAT:
        return f"→ about {was}"
    verdict = "better" if change.better else "worse"
    return f"{ARROWS[change.direction]} from {was}, {verdict}"


def format_cadence(report: DoraReport) -> str:
    bucket = report.frequency_bucket
    if bucket.value is None:
        return f"{NOT_ENOUGH} (needs a {MIN_CADENCE_DAYS}-day window)"
    return f"{bucket.value.value} ({bucket.count} days with a deploy)"
