"""The notices a watch evaluation causes: its one message and a reply per colour change."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import Text
from bot.domain.watch.hysteresis import WatchUpdate
from bot.domain.watch.report import change_text, watch_text
from bot.domain.watch.verdict import WatchColor
from bot.domain.watch.watch import Watch, WatchPurpose, watch_key

__all__ = ["watch_notices"]

NOTEWORTHY = (WatchColor.RED, WatchColor.YELLOW)  # a first announcement worth a reply


def watch_notices(
    release: Release, before: Watch, after: Watch, update: WatchUpdate, *, status: Text
) -> list[Notice]:
    """The watch's one message (posted, then edited) and, on a colour change, a reply; in
    the ops thread too once the release failed."""
    failed = EventType.FAILED in release.times
    recovering = failed and before.purpose is WatchPurpose.RECOVERY
    audience = Audience.OPS_THREAD if recovering else Audience.FEED_THREAD
    message = Notice(
        NoticeKind.WATCH,
        audience,
        release,
        None,
        text=watch_text(after, update, status=status),
        key=watch_key(before.purpose),
        replaces=before.posted,
    )
    notices = [message]
    said, was = update.announcement, before.state.announced
    if said is not None and (was is not None or said.color in NOTEWORTHY):
        urgent = said.color is WatchColor.RED
        reply = Notice(
            NoticeKind.WATCH,
            audience,
            release,
            None,
            text=change_text(after, said, was=was),
            urgent=urgent,
            offers_rollback=urgent and before.purpose is WatchPurpose.RELEASE,
        )
        notices.append(reply)
        if failed and audience is not Audience.OPS_THREAD:
            notices.append(replace(reply, audience=Audience.OPS_THREAD))
    return notices
