"""Recovery confirmed by health: after a rollback, the service must be green again, and stay.

A recovery watch starts at `release.rolled_back` (by `/deploy rollback` or by Herald). Health
is back at the first of an unbroken run of green evaluations; it is *confirmed* when that run
has lasted `recovery_hold` (2 minutes by default), or sooner when the release's alert has
resolved and the latest evaluation is green too. Then `release.recovered` is recorded at the
time health came back (so the time to restore is failure → health back, not → confirmation),
the page is resolved (``recording._follow_up``) and the ops thread hears it is closed. Past
`recovery_within` with no confirmation, the thread hears so and the page stays open.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.model import Notice, Release
from bot.domain.release.recording import record_event
from bot.domain.signals.rollback_policy import timed
from bot.domain.text import Emoji, Strong, Text, format_duration, text
from bot.domain.watch.hysteresis import WatchUpdate
from bot.domain.watch.notices import watch_notices
from bot.domain.watch.report import clock, elapsed
from bot.domain.watch.verdict import WatchColor
from bot.domain.watch.watch import LostWatch, Watch, WatchConfig

__all__ = ["record_recovery"]


async def record_recovery(
    ledger: Ledger,
    *,
    watch: Watch,
    update: WatchUpdate,
    config: WatchConfig,
    now: datetime,
    failed: bool = False,
) -> None:
    """In one transaction: the recovery watch's state and message, and once health is
    confirmed, `release.recovered`; past the bound, the thread hears health is not back."""
    release = await ledger.get_release(watch.release_id)
    assert release is not None
    green = update.verdict.color is WatchColor.GREEN
    since = (watch.healthy_since or update.verdict.at) if green else None
    new = replace(watch, state=update.state, posted=True, healthy_since=since)
    confirmed = _confirmed(new, config=config, now=now)
    finished = "recovered" if confirmed else "expired" if watch.over(now) else None
    next_at = now + config.policy.interval
    reason = update.verdict.reason()
    saved = await ledger.save_watch(
        watch=new, due_at=next_at, finished=finished, reason=reason, failed=failed
    )
    if not saved:
        raise LostWatch(f"watch {watch.id}")
    status = _status(new, confirmed=confirmed, finished=finished, config=config, now=now)
    await ledger.enqueue(watch_notices(release, watch, new, update, status=status))
    if confirmed is not None and since is not None:
        await _recover(ledger, release=release, since=since, how=confirmed, now=now)
    elif finished == "expired":
        await ledger.enqueue([Notice.note(release, timed(now, _not_back(config, reason)))])


def _confirmed(watch: Watch, *, config: WatchConfig, now: datetime) -> str | None:
    """How health was confirmed, or None while it is not (yet)."""
    since = watch.healthy_since
    if since is None:
        return None
    if now - since >= config.recovery_hold:
        return f"green for {format_duration(config.recovery_hold.total_seconds())}"
    if watch.alert_resolved_at is not None:
        return "the alert resolved and health is green"
    return None


async def _recover(
    ledger: Ledger, *, release: Release, since: datetime, how: str, now: datetime
) -> None:
    if not is_legal(release.state, EventType.RECOVERED):
        return
    request = EventRequest(
        event=EventType.RECOVERED,
        at=since,
        reason=f"health confirmed by the recovery watch: {how}",
        actor="herald",
    )
    await record_event(ledger=ledger, release_id=release.id, request=request, now=now)
    failed = release.times.get(EventType.FAILED)
    restore = f"; time to restore {elapsed(since - failed)}" if failed else ""
    said = text(
        Emoji("white_check_mark"),
        " ",
        Strong("Recovered"),
        f": health back at {clock(since)} ({how}){restore}. Its page, if any, is resolved;"
        " this thread is closed.",
    )
    await ledger.enqueue([Notice.note(release, timed(now, said))])


def _not_back(config: WatchConfig, reason: str) -> Text:
    within = format_duration(config.recovery_within.total_seconds())
    return text(
        Emoji("warning"),
        f" Health has not come back within {within} of the rollback ({reason}). The page"
        " stays open: look at the service, or roll back further with /deploy rollback.",
    )


def _status(
    watch: Watch, *, confirmed: str | None, finished: str | None, config: WatchConfig, now: datetime
) -> Text:
    if confirmed is not None:
        return text(f"Recovery confirmed ({confirmed}).")
    if finished:
        return text("Health did not come back in time; the page stays open.")
    hold = format_duration(config.recovery_hold.total_seconds())
    if watch.healthy_since is None:
        return text(f"Waiting for health: green for {hold} confirms recovery.")
    held = format_duration((now - watch.healthy_since).total_seconds())
    return text(f"Green for {held} of the {hold} that confirm recovery.")
