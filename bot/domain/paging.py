"""Paging a human: the port Herald's PagerDuty adapter implements, in plain types.

A ``Page`` is one alert identified by a deterministic ``dedup_key``: sending it twice
(a retry after an ambiguous failure) adds to the open alert instead of opening another.
Every call takes a ``deadline`` bounding its retries in time, so a late retry can never
re-open an alert that a human resolved meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Protocol

from bot.domain.text import truncate

__all__ = [
    "MAX_DEDUP_KEY",
    "MAX_SUMMARY",
    "SEVERITIES",
    "ChangeEvent",
    "Page",
    "PageOutcome",
    "Pager",
    "release_dedup_key",
]

MAX_SUMMARY: Final = 1024
MAX_DEDUP_KEY: Final = 255
SEVERITIES: Final = frozenset({"critical", "error", "warning", "info"})
NO_DETAILS: Final[Mapping[str, Any]] = MappingProxyType({})


def release_dedup_key(release_id: str) -> str:
    """The alert key for a release: ``herald:rel:<release_id>`` (cut to 255 characters)."""
    return f"herald:rel:{release_id}"[:MAX_DEDUP_KEY]


@dataclass(frozen=True)
class Page:
    """One alert. ``summary`` is cut to 1024 characters (ending with "…");
    ``dedup_key`` must be 1-255 characters and ``severity`` one of ``SEVERITIES``."""

    dedup_key: str
    summary: str
    source: str
    severity: str = "critical"
    component: str | None = None
    group: str | None = None
    links: tuple[tuple[str, str], ...] = ()  # (href, text)
    custom_details: Mapping[str, Any] = field(default_factory=dict)
    client_url: str | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.dedup_key) <= MAX_DEDUP_KEY:
            raise ValueError(f"dedup_key must be 1-{MAX_DEDUP_KEY} characters")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {sorted(SEVERITIES)}: {self.severity!r}")
        if not self.source:
            raise ValueError("source must not be empty")
        object.__setattr__(self, "summary", truncate(self.summary, MAX_SUMMARY))
        object.__setattr__(self, "links", tuple((str(h), str(t)) for h, t in self.links))


@dataclass(frozen=True)
class ChangeEvent:
    """A change on the service's PagerDuty timeline (a deploy): responders see what shipped
    next to the incident, and it never pages anyone."""

    summary: str
    source: str
    links: tuple[tuple[str, str], ...] = ()  # (href, text)
    custom_details: Mapping[str, Any] = field(default_factory=dict)


class PageOutcome(StrEnum):
    SENT = "sent"  # accepted (202): PagerDuty has the event
    REJECTED = "rejected"  # refused as invalid (400): retrying cannot help
    GAVE_UP = "gave_up"  # still failing when the deadline came: nothing more will be sent


class Pager(Protocol):
    """Sends alerts and change events; retries until sent, rejected or ``deadline``."""

    async def trigger(self, page: Page, *, routing_key: str, deadline: datetime) -> PageOutcome:
        """Open the alert ``page.dedup_key``, or add to it while it is open."""
        ...

    async def resolve(self, dedup_key: str, *, routing_key: str, deadline: datetime) -> PageOutcome:
        """Resolve the open alert; dropped by PagerDuty when none is open."""
        ...

    async def change_event(
        self,
        *,
        summary: str,
        source: str,
        routing_key: str,
        links: Sequence[tuple[str, str]] = (),
        custom_details: Mapping[str, Any] = NO_DETAILS,
        deadline: datetime,
    ) -> PageOutcome:
        """Record a change (a deploy) on the service's timeline; never pages anyone."""
        ...
