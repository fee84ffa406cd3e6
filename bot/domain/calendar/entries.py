"""A rolling window of the release calendar as data: planned releases (their manifest's
`planned_for`), freeze stretches, and past releases with their outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.release.lifecycle import EventType

MAX_WEEKS = 26


class Kind(StrEnum):
    PLANNED = "planned"
    FREEZE = "freeze"
    RELEASE = "release"  # started, with its outcome so far


@dataclass(frozen=True)
class Entry:
    kind: Kind
    title: str
    start: datetime
    end: datetime | None = None  # a freeze's end
    service: str | None = None
    env: str | None = None
    release_id: str | None = None
    outcome: str | None = None  # a past release's state: deployed, failed, rolled_back...
    uid: str = ""  # stable across calendar reloads (iCalendar UID)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind.value, "title": self.title}
        found["start"] = self.start.isoformat()
        for name in ("service", "env", "release_id", "outcome"):
            if (value := getattr(self, name)) is not None:
                found[name] = value
        if self.end is not None:
            found["end"] = self.end.isoformat()
        return found


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def rolling(cls, now: datetime, *, weeks: int) -> Window:
        """From the start of the day a week ago, `weeks` weeks long."""
        start = datetime.combine(now.astimezone(UTC).date(), time(), UTC) - timedelta(days=7)
        return cls(start, start + timedelta(weeks=weeks))


@dataclass(frozen=True)
class Dated:
    """What the calendar needs of a release (the store reads no more than this)."""

    id: str
    service: str
    env: str
    version: str
    state: EventType | None
    started: datetime | None = None
    deployed: datetime | None = None
    planned_for: datetime | None = None


def build_entries(
    *,
    window: Window,
    planned: Sequence[Dated],
    shipped: Sequence[Dated],
    freezes: FreezeCalendar,
    service: str | None = None,
) -> list[Entry]:
    """Every entry in `window` (of `service`, or all), in time order."""
    entries: list[Entry] = []
    for release in planned:
        at = release.planned_for
        still_planned = release.state is EventType.PLANNED
        if at is not None and still_planned and window.start <= at < window.end:
            entries.append(_planned(release, at))
    for release in shipped:
        at = release.started or release.deployed
        if at is not None and window.start <= at < window.end:
            entries.append(_shipped(release, at))
    for stretch in freezes.between(service, None, start=window.start, end=window.end):
        title = f"Freeze {stretch.name}: {stretch.reason} ({stretch.scope.describe()})"
        uid = f"freeze-{stretch.name}-{stretch.start:%Y%m%dT%H%M}"
        entries.append(Entry(Kind.FREEZE, title, stretch.start, stretch.end, uid=uid))
    if service is not None:
        entries = [e for e in entries if e.service in (None, service)]
    return sorted(entries, key=lambda entry: (entry.start, entry.kind.value, entry.title))


def _planned(release: Dated, at: datetime) -> Entry:
    title = f"{release.service} {release.version} to {release.env} (planned)"
    return Entry(
        Kind.PLANNED, title, at, service=release.service, env=release.env,
        release_id=release.id, uid=f"release-{release.id}",
    )  # fmt: skip


def _shipped(release: Dated, at: datetime) -> Entry:
    outcome = release.state.short if release.state else "started"
    title = f"{release.service} {release.version} to {release.env}: {outcome}"
    return Entry(
        Kind.RELEASE, title, at, service=release.service, env=release.env,
        release_id=release.id, outcome=outcome, uid=f"release-{release.id}",
    )  # fmt: skip
