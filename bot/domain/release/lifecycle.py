"""The six lifecycle events and the legal moves between them (docs/design.md §2)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    PLANNED = "release.planned"
    STARTED = "release.started"
    DEPLOYED = "release.deployed"
    FAILED = "release.failed"
    ROLLED_BACK = "release.rolled_back"
    RECOVERED = "release.recovered"

    @property
    def short(self) -> str:
        """`release.rolled_back` → `rolled_back`."""
        return self.value.removeprefix("release.")


LEGAL_NEXT: dict[EventType | None, tuple[EventType, ...]] = {
    None: (EventType.PLANNED,),
    EventType.PLANNED: (EventType.STARTED,),
    EventType.STARTED: (EventType.DEPLOYED, EventType.FAILED),
    EventType.DEPLOYED: (EventType.FAILED,),
    EventType.FAILED: (EventType.ROLLED_BACK, EventType.RECOVERED),
    EventType.ROLLED_BACK: (EventType.RECOVERED,),
    EventType.RECOVERED: (),
}

RESULTS: dict[EventType, str] = {
    EventType.PLANNED: "planned",
    EventType.STARTED: "in_progress",
    EventType.DEPLOYED: "success",
    EventType.FAILED: "failure",
    EventType.ROLLED_BACK: "rolled_back",
    EventType.RECOVERED: "recovered",
}


def legal_next(state: EventType | None) -> tuple[EventType, ...]:
    """The events that may follow `state` (None: a release not yet recorded)."""
    return LEGAL_NEXT[state]


def is_legal(state: EventType | None, event: EventType) -> bool:
    return event in LEGAL_NEXT[state]
