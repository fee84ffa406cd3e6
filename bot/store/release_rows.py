"""Releases and events as rows and back: the one place their columns are named."""

from __future__ import annotations

from typing import Any

from bot.domain.release.events import EventPayload
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import RecordedEvent, Release
from bot.store.tables import EventRow, ReleaseRow

_TIME_COLUMNS = {
    EventType.PLANNED: "planned_at",
    EventType.STARTED: "started_at",
    EventType.DEPLOYED: "deployed_at",
    EventType.FAILED: "failed_at",
    EventType.ROLLED_BACK: "rolled_back_at",
    EventType.RECOVERED: "recovered_at",
}


def release_columns(release: Release) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "id": release.id,
        "service": release.service,
        "env": release.env,
        "version": release.version,
        "owner": release.owner,
        "state": release.state.value if release.state else None,
        "manifest": release.manifest.canonical(),
        "digest": release.digest,
        "received_at": release.received_at,
        "lead_time_seconds": release.lead_time_seconds,
        "links": release.extra_links,
    }
    for event, column in _TIME_COLUMNS.items():
        columns[column] = release.times.get(event)
    return columns


def release_from_row(row: ReleaseRow) -> Release:
    times = {
        event: getattr(row, column)
        for event, column in _TIME_COLUMNS.items()
        if getattr(row, column) is not None
    }
    return Release(
        manifest=Manifest.model_validate(row.manifest),
        digest=row.digest,
        received_at=row.received_at,
        state=EventType(row.state) if row.state else None,
        times=times,
        lead_time_seconds=row.lead_time_seconds,
        extra_links=dict(row.links),
        revision=row.revision,
    )


def event_from_row(row: EventRow) -> RecordedEvent:
    return RecordedEvent(
        release_id=row.release_id,
        type=EventType(row.type),
        at=row.at,
        payload=EventPayload.model_validate(row.payload),
        received_at=row.received_at,
        idempotency_key=row.idempotency_key,
    )
