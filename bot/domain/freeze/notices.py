"""A release that starts while a freeze holds it: said loudly, in the feed and in #release-ops,
and kept in the started event's payload (`during_freeze`) for every other sink and the report."""

from __future__ import annotations

from typing import Any

from bot.domain.freeze.window import Occurrence
from bot.domain.release.model import Audience, Notice, NoticeKind, Release
from bot.domain.text import Code, Emoji, text, utc_stamp


def describe_freeze(freeze: Occurrence) -> dict[str, Any]:
    """The payload's `during_freeze`."""
    return {"window": freeze.name, "reason": freeze.reason, "until": freeze.end.isoformat()}


def started_in_freeze(release: Release, freeze: Occurrence) -> list[Notice]:
    """A reply under the release's feed card and a message in #release-ops."""
    said = text(
        Emoji("snowflake"), " ", Emoji("warning"), " ", Code(f"{release.service} {release.env}"),
        f" {release.version} started during the freeze {freeze.name} ({freeze.reason}),"
        f" which lasts until {utc_stamp(freeze.end)}.",
    )  # fmt: skip
    return [
        Notice(NoticeKind.NOTE, Audience.FEED_THREAD, release, None, text=said, urgent=True),
        Notice(NoticeKind.NOTE, Audience.OPS, release, None, text=said, urgent=True),
    ]
