"""Flags to clean up: declared by the newest release of a service and env with an `expires`
that has passed, or shipped more than 30 days ago without one. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Flag
from bot.domain.release.model import Release

OLD = timedelta(days=30)


@dataclass(frozen=True)
class StaleFlag:
    key: str
    service: str
    env: str
    owner: str | None
    why: str  # `expired 2026-11-01`, `shipped 45 days ago`

    def describe(self) -> str:
        owner = f", owner {self.owner}" if self.owner else ""
        return f"{self.key} ({self.service} {self.env}: {self.why}{owner})"


def stale_flags(releases: Iterable[Release], *, now: datetime) -> list[StaleFlag]:
    found: dict[tuple[str, str], StaleFlag] = {}
    for release in releases:
        for flag in release.manifest.flags:
            stale = _stale(flag, release, now)
            if stale is not None:
                found.setdefault((stale.key, stale.service), stale)
    return sorted(found.values(), key=lambda flag: (flag.service, flag.key))


def _stale(flag: str | Flag, release: Release, now: datetime) -> StaleFlag | None:
    key = flag if isinstance(flag, str) else flag.key
    owner = None if isinstance(flag, str) else flag.owner
    expires = None if isinstance(flag, str) else flag.expires
    if expires is not None:
        if expires > now:
            return None
        why = f"expired {expires:%Y-%m-%d}"
    else:
        shipped = release.times.get(EventType.DEPLOYED)
        if shipped is None or now - shipped <= OLD:
            return None
        why = f"shipped {(now - shipped).days} days ago"
    return StaleFlag(key, release.service, release.env, owner, why)
