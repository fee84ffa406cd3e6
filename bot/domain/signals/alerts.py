"""Alertmanager alerts that concern a release: which release, what to say, whether to page.

An alert is release-scoped when

1. it has the label `scope="release"` and names the release: `release_id`, or
   `service` + `env` (the newest release of that service and environment); or
2. it has a `service` label (and maybe `env`) and a release of that service (in that env,
   when labelled) was started or deployed within the window (default 2 h) before the
   alert started: `started ≤ startsAt ≤ deployed + window`, the newest such release wins.

Anything else is not Herald's business. A firing alert becomes a note in the release's
thread (ops thread when the release failed, else the feed thread); a resolved alert a note
that it resolved. Every label and annotation is escaped: alert text cannot ping anyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.domain.ports import Ledger, LedgerFactory, ReleaseReader
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, Release
from bot.domain.text import (
    Emoji,
    Link,
    Quote,
    Span,
    Strong,
    Text,
    format_duration,
    lines,
    text,
    truncate,
    utc_stamp,
)
from bot.domain.transactions import run_in_transaction

__all__ = [
    "DEFAULT_WINDOW",
    "PAGING_SEVERITIES",
    "Alert",
    "AlertDecision",
    "AlertScope",
    "AlertStatus",
    "decide",
    "in_window",
    "match_release",
    "note_text",
    "post_alert_notes",
    "scope_of",
    "take_alerts",
]

DEFAULT_WINDOW = timedelta(hours=2)
CLOCK_SKEW = timedelta(minutes=1)
PAGING_SEVERITIES = frozenset({"critical", "page"})
MAX_TEXT = 500
_UNSAFE_URL = re.compile(r"[\s<>|]")


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager notification, in plain types."""

    group_key: str
    status: AlertStatus
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname") or "unnamed alert"

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity") or None

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or self.annotations.get("description") or self.name

    def inbox_key(self) -> str:
        """Alertmanager re-sends a group every `repeat_interval`: the same key, dropped."""
        starts = self.starts_at.astimezone(UTC).isoformat()
        return f"alertmanager:{self.group_key}:{self.fingerprint}:{self.status.value}:{starts}"


@dataclass(frozen=True)
class AlertScope:
    """What an alert points at: a release id, or a service (and env) to match."""

    release_id: str | None = None
    service: str | None = None
    env: str | None = None
    windowed: bool = False  # True: matched by deploy time, not named explicitly


@dataclass(frozen=True)
class AlertDecision:
    """What Herald did with one alert: for paging and the alert-driven rollback."""

    release_id: str
    fingerprint: str
    status: AlertStatus
    severity: str | None
    summary: str
    should_page: bool
    name: str
    starts_at: datetime


def scope_of(alert: Alert) -> AlertScope | None:
    labels = alert.labels
    service, env = labels.get("service") or None, labels.get("env") or None
    if labels.get("scope") == "release":
        if release_id := labels.get("release_id"):
            return AlertScope(release_id=release_id)
        if service and env:
            return AlertScope(service=service, env=env)
    if service:
        return AlertScope(service=service, env=env, windowed=True)
    return None


def in_window(release: Release, at: datetime, window: timedelta = DEFAULT_WINDOW) -> bool:
    """True when `at` falls between the release's start and `window` after its deploy."""
    begin = release.times.get(EventType.STARTED) or release.times.get(EventType.DEPLOYED)
    if begin is None:
        return False
    last = release.times.get(EventType.DEPLOYED) or begin
    return begin - CLOCK_SKEW <= at <= last + window


async def match_release(
    alert: Alert, *, releases: ReleaseReader, window: timedelta = DEFAULT_WINDOW
) -> str | None:
    """The id of the release `alert` concerns, or None when it concerns no release."""
    scope = scope_of(alert)
    if scope is None:
        return None
    if scope.release_id:
        return scope.release_id
    assert scope.service is not None
    if not scope.windowed and scope.env:
        latest = await releases.latest(service=scope.service, env=scope.env)
        return latest.id if latest else None
    candidates = [
        r
        for r in await releases.in_flight(now=alert.starts_at, service=scope.service)
        if r.service == scope.service
        and (scope.env is None or r.env == scope.env)
        and in_window(r, alert.starts_at, window)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: max(r.times.values())).id


def decide(alert: Alert, release_id: str) -> AlertDecision:
    severity = alert.severity
    return AlertDecision(
        release_id=release_id,
        fingerprint=alert.fingerprint,
        status=alert.status,
        severity=severity,
        summary=truncate(alert.summary, 1024),
        should_page=alert.status is AlertStatus.FIRING
        and (severity or "").lower() in PAGING_SEVERITIES,
        name=_one_line(alert.name),
        starts_at=alert.starts_at,
    )


def note_text(alert: Alert) -> Text:
    """The thread note for an alert: its name in bold, its summary and description quoted,
    a link to its source when the URL is safe to link."""
    severity = _one_line(alert.severity or "none")
    since = utc_stamp(alert.starts_at)
    head = text(Strong(_one_line(alert.name)), f" | severity: {severity}")
    if alert.status is AlertStatus.RESOLVED:
        ended = alert.ends_at if alert.ends_at and alert.ends_at > alert.starts_at else None
        until = ""
        if ended is not None:
            lasted = format_duration((ended - alert.starts_at).total_seconds())
            until = f" → resolved {utc_stamp(ended)} ({lasted})"
        return text(
            Emoji("white_check_mark"), " Alert resolved: ", head, f" | fired {since}{until}"
        )
    rows = [text(Emoji("rotating_light"), " Alert firing: ", head, f" | since {since}")]
    for key in ("summary", "description"):
        if said := _one_line(alert.annotations.get(key, "")):
            rows.append(text(Quote(said)))
    if alert.generator_url:
        rows.append(text("- Source: ", _link(alert.generator_url)))
    return lines(rows)


async def post_alert_notes(
    *, ledger: Ledger, matches: Sequence[tuple[Alert, str]]
) -> list[AlertDecision]:
    """Write one note per (alert, release id) into the release's thread, in one transaction."""
    notices: list[Notice] = []
    decisions: list[AlertDecision] = []
    for alert, release_id in matches:
        release = await ledger.get_release(release_id)
        if release is None:
            continue
        notices.append(Notice.note(release, note_text(alert)))
        decisions.append(decide(alert, release.id))
        paging = (alert.severity or "").lower() in PAGING_SEVERITIES
        if alert.status is AlertStatus.RESOLVED and paging and alert.ends_at is not None:
            # a recovery watch confirms recovery sooner once the alert agrees health is back
            await ledger.note_alert_resolved(release_id=release.id, at=alert.ends_at)
    if notices:
        await ledger.enqueue(notices)
    return decisions


async def take_alerts(
    *, alerts: Sequence[Alert], releases: ReleaseReader, ledgers: LedgerFactory
) -> list[AlertDecision]:
    """Match each alert to its release, then write the notes of those that concern one in
    one transaction (`run_in_transaction`: again if a concurrent writer won)."""
    matches: list[tuple[Alert, str]] = []
    for alert in alerts:
        release_id = await match_release(alert, releases=releases, window=DEFAULT_WINDOW)
        if release_id is not None:
            matches.append((alert, release_id))
    if not matches:
        return []
    return await run_in_transaction(
        ledgers, lambda ledger: post_alert_notes(ledger=ledger, matches=matches)
    )


def _one_line(text: str) -> str:
    return truncate(" ".join(text.split()), MAX_TEXT)


def _link(url: str) -> Span:
    if url.startswith(("http://", "https://")) and not _UNSAFE_URL.search(url):
        return Link(url, "alert source")
    return _one_line(url)
