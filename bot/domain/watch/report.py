"""What a watch says: its one message (edited at each evaluation) and a reply per colour change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.checkup.evaluators import PASS
from bot.domain.text import Emoji, Strong, Text, format_duration, lines, text
from bot.domain.watch.hysteresis import WatchUpdate
from bot.domain.watch.verdict import WatchColor, WatchVerdict
from bot.domain.watch.watch import Watch, WatchPurpose

__all__ = ["age", "change_text", "clock", "elapsed", "watch_text"]

EMOJI = {
    WatchColor.GREEN: "large_green_circle",
    WatchColor.YELLOW: "large_yellow_circle",
    WatchColor.RED: "red_circle",
    WatchColor.INCONCLUSIVE: "white_circle",
    WatchColor.UNKNOWN: "grey_question",
}
TITLE = {WatchPurpose.RELEASE: "Early watch", WatchPurpose.RECOVERY: "Recovery watch"}
MAX_SIGNALS = 8


def clock(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S UTC")


def elapsed(d: timedelta) -> str:
    """A span as the thread says it: ``1m 5s`` (never negative)."""
    return format_duration(max(0.0, d.total_seconds()))


def age(d: timedelta) -> str:
    """How long after R: ``+1m 5s``."""
    return "+" + elapsed(d)


def watch_text(watch: Watch, update: WatchUpdate, *, status: Text) -> Text:
    """The watch's message: the colour it announces, why, and the latest evaluation's signals.
    `status` is one line on where the watch stands (watching until…, over, recovered…)."""
    state, latest = update.state, update.verdict
    title = TITLE[watch.purpose]
    if state.announced is None:
        head = text(Emoji("hourglass_flowing_sand"), " ", Strong(f"{title}: judging"))
    else:
        shown = update.announcement or latest
        head = text(
            Emoji(EMOJI[state.announced]),
            " ",
            Strong(f"{title}: {state.announced}"),
            f" — {_reason(shown, state.announced, watch.purpose)}",
        )
    judged = (
        f"Judged {state.evaluations} time{'s' if state.evaluations != 1 else ''}, last at "
        f"{clock(latest.at)} ({age(latest.age)}): {latest.color}"
        + (f", against the {latest.comparison}" if latest.comparison else "")
        + "."
    )
    rows = [
        text(f"• {s.metric}: {s.now} (was {s.baseline}) {_mark(s.outcome)}") for s in latest.signals
    ]
    return lines([head, text(judged), status, *rows[:MAX_SIGNALS]])


def change_text(watch: Watch, verdict: WatchVerdict, *, was: WatchColor | None) -> Text:
    """The reply when the announced colour changes: to what, when, from what, and why."""
    before = f" (was {was})" if was is not None else ""
    return text(
        Emoji(EMOJI[verdict.color]),
        f" {TITLE[watch.purpose]} turned ",
        Strong(str(verdict.color)),
        f" at {clock(verdict.at)} ({age(verdict.age)}){before}: {verdict.reason()}",
    )


def _reason(verdict: WatchVerdict, announced: WatchColor, purpose: WatchPurpose) -> str:
    if verdict.color is announced:
        if purpose is WatchPurpose.RECOVERY and announced is WatchColor.GREEN:
            return "healthy since the rollback"
        return verdict.reason()
    return f"{verdict.reason()} (now judging {verdict.color})"


def _was(baseline: str) -> str:
    return "" if baseline in ("—", "") else f" (was {baseline})"


def _mark(outcome: str) -> str:
    return "✓" if outcome == PASS else outcome.lower()
