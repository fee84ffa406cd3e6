"""The release record: one per manifest id, advanced by lifecycle events."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.release.events import EventPayload
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.text import EMPTY, Text


@dataclass(frozen=True)
class Release:
    """What Herald knows about one release. `revision` guards concurrent writers."""

    manifest: Manifest
    digest: str
    received_at: datetime
    state: EventType | None = None
    times: dict[EventType, datetime] = field(default_factory=dict)
    lead_time_seconds: float | None = None
    extra_links: dict[str, str] = field(default_factory=dict)
    revision: int = 0

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def service(self) -> str:
        return self.manifest.service_name

    @property
    def env(self) -> str:
        return self.manifest.env

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def owner(self) -> str:
        return self.manifest.owner

    @property
    def rollback_target(self) -> str | None:
        return self.manifest.rollback.to_version if self.manifest.rollback else None

    def advanced(
        self, event: EventType, at: datetime, *, lead_time: float | None, links: dict[str, str]
    ) -> Release:
        """The release after `event` happened at `at`; links learned on the way are kept."""
        return replace(
            self,
            state=event,
            times={**self.times, event: at},
            lead_time_seconds=lead_time if lead_time is not None else self.lead_time_seconds,
            extra_links={**self.extra_links, **links},
        )

    def links(self) -> dict[str, str]:
        """The manifest's links plus those events brought (a later one wins)."""
        return {**self.manifest.links, **self.extra_links}


@dataclass(frozen=True)
class RecordedEvent:
    """One lifecycle event as stored."""

    release_id: str
    type: EventType
    at: datetime
    payload: EventPayload
    received_at: datetime
    idempotency_key: str | None = None


class Audience(StrEnum):
    """Where a notice goes: the feed or the ops channel, top level or in the release's thread."""

    FEED = "feed"
    FEED_THREAD = "feed_thread"
    OPS = "ops"
    OPS_THREAD = "ops_thread"
    APPROVALS = "approvals"  # approval requests: the ops channel unless the service names one

    @property
    def channel_role(self) -> str:
        if self is Audience.APPROVALS:
            return "approvals"
        return "ops" if self in (Audience.OPS, Audience.OPS_THREAD) else "feed"

    @property
    def in_thread(self) -> bool:
        return self in (Audience.FEED_THREAD, Audience.OPS_THREAD)


class NoticeKind(StrEnum):
    EVENT = "event"
    DETAILS = "details"
    INCIDENT = "incident"
    NOTE = "note"
    CHECKUP = "checkup"
    RELEASE_NOTES = "release_notes"
    WATCH = "watch"
    APPROVAL = "approval"  # an approval request: its `report` is an ApprovalCard
    RETRO = "retro"  # the retro reminder, with Retro done


# A key names a message the release owns: a slug that fits the outbox's `role` column.
MAX_KEY_LENGTH = 32
_KEY = re.compile(r"[a-z][a-z0-9_]*")
# Roles Herald names itself: `<channel>_root` and `<audience>_<kind>` for notices, and the
# PagerDuty rows of a release (bot/store/pages.py). A key may take none of them.
_BUILT_IN_PREFIXES = ("feed_", "ops_")
_BUILT_IN_ROLES = frozenset({"page_trigger", "page_resolve", "change_event"})


@dataclass(frozen=True)
class Notice:
    """Something Herald must say: rendered by the Slack adapter, delivered through the outbox.

    A notice with a `key` is a message the release owns and may change later; one that also
    `replaces` is the new content of that message, delivered as an edit of it, not as a post.
    One that `replaces` without a key is the new content of the thread's root in its audience's
    channel (the incident message at the top of the ops thread).
    """

    kind: NoticeKind
    audience: Audience
    release: Release
    payload: EventPayload | None
    opens_thread: bool = False
    urgent: bool = False
    text: Text = EMPTY
    report: Any = None  # a CheckupReport for NoticeKind.CHECKUP
    key: str | None = None
    replaces: bool = False
    offers_rollback: bool = False  # carries Roll back… (a red checkup or early watch)

    def __post_init__(self) -> None:
        if (
            self.replaces
            and self.key is None
            and self.audience not in (Audience.FEED, Audience.OPS)
        ):
            raise ValueError(
                "a notice that replaces a message needs the key of that message"
                " (or replaces its thread's root)"
            )
        if self.key is not None:
            check_key(self.key)
            if self.opens_thread:
                raise ValueError("a keyed message cannot open the release's thread")

    @classmethod
    def note(cls, release: Release, text: Text) -> Notice:
        """A reply in the release's ops thread when it has one, else in its feed thread."""
        failed = any(event.value == "release.failed" for event in release.times)
        audience = Audience.OPS_THREAD if failed else Audience.FEED_THREAD
        return cls(NoticeKind.NOTE, audience, release, None, text=text)


def check_key(key: str) -> None:
    """Refuse a key that is not a short slug or that is a role Herald names itself."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(
            f"message key {key!r} must be a slug of at most {MAX_KEY_LENGTH} characters "
            "(a-z, 0-9, _; starting with a letter)"
        )
    if key.startswith(_BUILT_IN_PREFIXES) or key in _BUILT_IN_ROLES:
        raise ValueError(f"message key {key!r} collides with a role Herald names itself")
