"""The incident message at the top of a failed release's ops thread, as data: its template's
details as they stand now, for the Slack adapter to render in place (chat.update)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.incident.model import Incident
from bot.domain.release.events import EventPayload
from bot.domain.release.model import Audience, Notice, NoticeKind, Release


@dataclass(frozen=True)
class IncidentCard:
    """What the incident message shows beyond the failure's own details."""

    state: str  # the release's lifecycle state, `release.failed` … `release.recovered`
    failed_at: datetime
    as_of: datetime
    updates: int
    verdict: str | None = None  # the last checkup's colour and label

    @property
    def elapsed_seconds(self) -> float:
        return max(0.0, (self.as_of - self.failed_at).total_seconds())

    @property
    def recovered(self) -> bool:
        return self.state == "release.recovered"


def incident_notice(
    release: Release,
    *,
    failed: EventPayload,
    incident: Incident,
    now: datetime,
    verdict: str | None = None,
) -> Notice:
    """The incident message's new content: the failure's details with the commander and the
    latest update over them, delivered as an edit of the thread's root."""
    details = {**failed.details, **incident.latest.details()}
    if incident.commander:
        details["commander"] = incident.commander
    payload = failed.model_copy(update={"details": details})
    state = release.state.value if release.state else failed.event.value
    card = IncidentCard(state, failed.at, now, incident.updates, verdict)
    return Notice(NoticeKind.INCIDENT, Audience.OPS, release, payload, report=card, replaces=True)
