"""Releases and events as rows and back: the one place their columns are named."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

from pydantic_core import PydanticUndefined
from sqlalchemy import Table
from sqlmodel import SQLModel

from bot.domain.release.events import EventPayload
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import RecordedEvent, Release
from bot.store.tables import EventRow, ReleaseRow


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a row class, for statements that need no ORM."""
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def row_values(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A new row of `model` as column values for a Core insert: `values` over the model's
    defaults, without building the ORM object (its instrumentation costs more than the
    insert); an id the database assigns is left out."""
    row = {**_defaults(model), **values}
    for name, factory in _factories(model).items():
        row.setdefault(name, factory())
    if row.get("id", "") is None:
        del row["id"]
    return row


@cache
def _defaults(model: type[SQLModel]) -> dict[str, Any]:
    return {
        name: field.default
        for name, field in model.model_fields.items()
        if field.default is not PydanticUndefined and field.default_factory is None
    }


@cache
def _factories(model: type[SQLModel]) -> dict[str, Callable[[], Any]]:
    return {
        name: cast(Callable[[], Any], field.default_factory)
        for name, field in model.model_fields.items()
        if field.default_factory is not None
    }


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
