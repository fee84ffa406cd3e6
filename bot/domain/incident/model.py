"""What Herald keeps about one incident: who commands it and the latest update."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

FIELD_LIMIT = 300  # characters of each free-text field of an update


@dataclass(frozen=True)
class IncidentUpdate:
    """What the commander says, in their words (each field may be left empty)."""

    symptom: str = ""
    blast_radius: str = ""
    flag_state: str = ""
    next_action: str = ""
    eta: str = ""

    def details(self) -> dict[str, str]:
        """As the incident message's template names them; the empty ones left out."""
        named = {
            "symptom": self.symptom,
            "blast_radius": self.blast_radius,
            "flag_state": self.flag_state,
            "next": self.next_action,
            "eta": self.eta,
        }
        return {key: value for key, value in named.items() if value}


@dataclass(frozen=True)
class Incident:
    release_id: str
    commander: str | None = None
    updates: int = 0  # how many updates were posted
    latest: IncidentUpdate = field(default_factory=IncidentUpdate)
    updated_at: datetime | None = None
    fix_forward: str | None = None  # the release (id, or version of the service) that fixes it
    reminded_at: datetime | None = None  # the retro reminder was queued then
    retro_link: str | None = None  # the retro's write-up, once done
    retro_at: datetime | None = None

    def commanded_by(self, user: str, *, at: datetime) -> Incident:
        return replace(self, commander=user, updated_at=at)

    def reminded(self, *, at: datetime) -> Incident:
        return replace(self, reminded_at=at)

    def retro_done(self, link: str, *, at: datetime) -> Incident:
        return replace(self, retro_link=link, retro_at=at, updated_at=at)

    def fixed_by(self, fix: str, *, at: datetime) -> Incident:
        return replace(self, fix_forward=fix, updated_at=at)

    def updated(self, update: IncidentUpdate, *, at: datetime) -> Incident:
        merged = IncidentUpdate(
            **{
                name: getattr(update, name) or getattr(self.latest, name)
                for name in IncidentUpdate.__dataclass_fields__
            }
        )
        return replace(self, updates=self.updates + 1, latest=merged, updated_at=at)
