"""Lifecycle event requests and the one payload shape every event carries (docs/design.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from bot.domain.release.lifecycle import RESULTS, EventType
from bot.domain.release.manifest import Url
from bot.domain.release.timestamps import Moment

Detail = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LinkName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class EventRequest(BaseModel):
    """What CI, a webhook or a command asks Herald to record. Unknown fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event: EventType
    at: Moment | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    links: dict[LinkName, Url] = Field(default_factory=dict, max_length=20)
    lead_time_seconds: Annotated[float, Field(ge=0, le=10 * 365 * 86400)] | None = None
    symptom: Detail | None = None
    blast_radius: Detail | None = None
    flag_state: Detail | None = None
    next: Detail | None = None
    eta: Detail | None = None
    pagerduty: Detail | None = None
    commander: Detail | None = None
    reason: Detail | None = None
    actor: Detail | None = None
    to_version: Detail | None = None

    def details(self) -> dict[str, Any]:
        """The event's own details: everything but the envelope fields."""
        data = self.model_dump(mode="json", exclude_none=True)
        for key in ("event", "at", "idempotency_key", "links"):
            data.pop(key, None)
        return data


class EventPayload(BaseModel):
    """The same payload goes to Slack metadata, the JSON log line and webhook subscribers."""

    model_config = ConfigDict(frozen=True)

    event: EventType
    id: str
    service: str
    env: str
    version: str
    owner: str
    at: datetime
    result: str
    links: dict[str, str]
    details: dict[str, Any]

    @classmethod
    def build(
        cls,
        *,
        event: EventType,
        release_id: str,
        service: str,
        env: str,
        version: str,
        owner: str,
        at: datetime,
        links: dict[str, str],
        details: dict[str, Any],
    ) -> EventPayload:
        return cls(
            event=event,
            id=release_id,
            service=service,
            env=env,
            version=version,
            owner=owner,
            at=at,
            result=RESULTS[event],
            links=links,
            details=details,
        )

    def flat(self) -> dict[str, Any]:
        """The wire shape: envelope fields plus details side by side."""
        envelope = self.model_dump(mode="json", exclude={"details"})
        return {**self.details, **envelope}
