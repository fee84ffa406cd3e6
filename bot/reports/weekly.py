"""The weekly report for the feed channel: a trend chart of deploys and failures per day,
and the same numbers as text for those who do not open images.

The numbers are parameters (`WeeklyNumbers`, `DayPoint`): whoever schedules the report fills
them from the DORA queries. The chart is drawn by matplotlib on the Agg canvas (no display,
no pyplot global state, safe in a server; imported only when a chart is drawn); the outbox
shares it in the report's thread with the Slack files API.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bot.domain.text import format_duration

CHART_FILENAME = "herald-weekly-trend.png"
CHART_TITLE = "Deploys and failures per day"


@dataclass(frozen=True)
class DayPoint:
    day: date
    deploys: int
    failures: int = 0


@dataclass(frozen=True)
class WeeklyNumbers:
    """What the weekly report says; the optional figures are left out when unknown."""

    days: Sequence[DayPoint]
    change_failure_rate: float | None = None  # 0.0 … 1.0
    lead_time_median_seconds: float | None = None
    time_to_restore_median_seconds: float | None = None
    extra: Sequence[str] = field(default_factory=tuple)  # more plain-text lines, as given
    late: str | None = None  # sent late: says so under the title


def fill_days(points: Sequence[DayPoint], *, until: date, weeks: int = 4) -> list[DayPoint]:
    """One point per day for the `weeks` weeks ending with `until`; missing days are zero."""
    by_day = {point.day: point for point in points}
    first = until - timedelta(days=7 * weeks - 1)
    days = (first + timedelta(days=n) for n in range(7 * weeks))
    return [by_day.get(day, DayPoint(day, 0, 0)) for day in days]


def render_trend_chart(points: Sequence[DayPoint]) -> bytes:
    """A PNG: deploys per day as bars, failures as red bars in front of them.

    matplotlib (and numpy) are imported here, once a week, not when Herald starts: they are
    ~60 MB of a server's resident memory that nothing else uses."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ordered = sorted(points, key=lambda point: point.day)
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    slots = list(range(len(ordered)))
    axes.bar(slots, [p.deploys for p in ordered], width=0.8, color="#4a90d9", label="deploys")
    axes.bar(slots, [p.failures for p in ordered], width=0.5, color="#d0021b", label="failures")
    step = 7 if len(ordered) > 14 else 1
    axes.set_xticks(slots[::step], [_day(p.day) for p in ordered[::step]], rotation=30)
    axes.set_title(CHART_TITLE)
    axes.set_ylabel("per day")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", frameon=False)
    if not ordered:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def weekly_report_text(numbers: WeeklyNumbers) -> str:
    """The same numbers as the chart, per week, plus the DORA figures that are known."""
    ordered = sorted(numbers.days, key=lambda point: point.day)
    if not ordered:
        late = [f"_{numbers.late}_"] if numbers.late else []
        return "\n".join(["*Weekly release report*", *late, "No deploys recorded in the period."])
    deploys = sum(p.deploys for p in ordered)
    failures = sum(p.failures for p in ordered)
    first, last = ordered[0].day, ordered[-1].day
    lines = [
        f"*Weekly release report* · {_day(first)} to {_day(last)}",
        f"{_count(deploys, 'deploy')} and {_count(failures, 'failure')} in total.",
    ]
    if numbers.late:
        lines.insert(1, f"_{numbers.late}_")
    figures = []
    if numbers.change_failure_rate is not None:
        figures.append(f"change failure rate {numbers.change_failure_rate:.0%}")
    if numbers.lead_time_median_seconds is not None:
        figures.append(f"median lead time {format_duration(numbers.lead_time_median_seconds)}")
    if numbers.time_to_restore_median_seconds is not None:
        restore = format_duration(numbers.time_to_restore_median_seconds)
        figures.append(f"median time to restore {restore}")
    if figures:
        lines.append(f"{'; '.join(figures).capitalize()}.")
    lines.append("Per week (the chart shows each day):")
    for start in range(0, len(ordered), 7):
        week = ordered[start : start + 7]
        week_deploys = sum(p.deploys for p in week)
        week_failures = sum(p.failures for p in week)
        lines.append(
            f"• {_day(week[0].day)} to {_day(week[-1].day)}: "
            f"{_count(week_deploys, 'deploy')}, {_count(week_failures, 'failure')}"
        )
    lines += list(numbers.extra)
    return "\n".join(lines)


def chart_upload(chart_png: bytes) -> dict[str, Any]:
    """The outbox body of the chart: the PNG (base64) and how it is shared in the report's
    thread (files_upload_v2, by the Slack delivery worker)."""
    return {
        "file_b64": base64.b64encode(chart_png).decode("ascii"),
        "filename": CHART_FILENAME,
        "title": CHART_TITLE,
        "alt_txt": f"{CHART_TITLE}; the numbers are in the message above.",
    }


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
