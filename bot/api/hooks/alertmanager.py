"""Alertmanager's webhook notification, version 4 (docs/contracts.md §5.2), as pydantic models.

Field names follow the wire (`groupKey`, `startsAt`, …) so a schema error names the path
Alertmanager sent. Unknown fields are kept: newer Alertmanagers may add some.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from bot.domain.release.timestamps import Moment, in_range
from bot.domain.signals.alerts import Alert, AlertStatus

__all__ = ["AlertmanagerAlert", "AlertmanagerWebhook"]


def _null_to_empty(value: Any) -> Any:
    return {} if value is None else value


def _zero_or_in_range(value: datetime) -> datetime:
    """Go's zero time passes (it means "not ended"); any other time is a `Moment`."""
    return value if value.year <= 1 else in_range(value)


Labels = Annotated[dict[str, str], BeforeValidator(_null_to_empty)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=10000)]
EndsAt = Annotated[AwareDatetime, AfterValidator(_zero_or_in_range)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class AlertmanagerAlert(_Wire):
    status: AlertStatus
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    startsAt: Moment
    endsAt: EndsAt | None = None
    generatorURL: str | None = None
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=128)]

    def to_alert(self, group_key: str) -> Alert:
        return Alert(
            group_key=group_key,
            status=self.status,
            fingerprint=self.fingerprint,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            starts_at=self.startsAt,
            ends_at=_real_time(self.endsAt),
            generator_url=self.generatorURL or None,
        )


class AlertmanagerWebhook(_Wire):
    version: str
    groupKey: Key
    truncatedAlerts: int = 0
    receiver: str = ""
    status: AlertStatus
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert] = Field(max_length=10000)

    def to_alerts(self) -> list[Alert]:
        return [alert.to_alert(self.groupKey) for alert in self.alerts]


def _real_time(value: datetime | None) -> datetime | None:
    """Alertmanager sends Go's zero time (`0001-01-01T00:00:00Z`) for "not ended"."""
    return value if value is not None and value.year > 1 else None
