"""Which messages each lifecycle event causes, and where they go (docs/design.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.release.events import EventPayload
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import Code, Emoji, text

MAX_CHANGES_INLINE = 5
NAMED_LINKS = ("run", "changelog", "notes")


def notices_for(*, release: Release, payload: EventPayload, first: bool) -> list[Notice]:
    """Exactly one feed message per event, plus the thread details and ops messages it implies."""
    urgent = payload.event in (EventType.FAILED, EventType.ROLLED_BACK)
    notices = [
        Notice(NoticeKind.EVENT, Audience.FEED, release, payload, opens_thread=first, urgent=urgent)
    ]
    if first and has_overflow(release):
        notices.append(Notice(NoticeKind.DETAILS, Audience.FEED_THREAD, release, payload))
    if payload.event is EventType.DEPLOYED and release.manifest.changes:
        # the Slack side renders the internal notes of `release` (bot/slack/notes.py)
        notices.append(Notice(NoticeKind.RELEASE_NOTES, Audience.FEED_THREAD, release, None))
    if payload.event is EventType.FAILED:
        notices.append(
            Notice(NoticeKind.INCIDENT, Audience.OPS, release, payload, opens_thread=True)
        )
    elif EventType.FAILED in release.times:
        notices.append(
            Notice(NoticeKind.EVENT, Audience.OPS_THREAD, release, payload, urgent=urgent)
        )
    return notices


def started_unmet(release: Release, unmet: Sequence[str]) -> Notice:
    """A reply under the release's feed card: it started while what it requires does not run."""
    said = text(
        Emoji("warning"), " ", Code(f"{release.service} {release.env} {release.version}"),
        " started while what it requires is not deployed: ", " ".join(unmet),
    )  # fmt: skip
    return Notice(NoticeKind.NOTE, Audience.FEED_THREAD, release, None, text=said, urgent=True)


def has_overflow(release: Release) -> bool:
    """True when the release has detail that does not fit the feed template."""
    manifest = release.manifest
    extra_links = set(manifest.links) - set(NAMED_LINKS)
    return len(manifest.changes) > MAX_CHANGES_INLINE or bool(manifest.flags or extra_links)
