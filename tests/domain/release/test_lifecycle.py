from __future__ import annotations

import itertools

from bot.domain.release.lifecycle import EventType, is_legal

LEGAL = {
    (None, EventType.PLANNED),
    (EventType.PLANNED, EventType.STARTED),
    (EventType.STARTED, EventType.DEPLOYED),
    (EventType.STARTED, EventType.FAILED),
    (EventType.DEPLOYED, EventType.FAILED),
    (EventType.FAILED, EventType.ROLLED_BACK),
    (EventType.FAILED, EventType.RECOVERED),
    (EventType.ROLLED_BACK, EventType.RECOVERED),
}


def test_exactly_the_designed_moves_are_legal() -> None:
    states: list[EventType | None] = [None, *EventType]
    for state, event in itertools.product(states, EventType):
        assert is_legal(state, event) == ((state, event) in LEGAL), (state, event)
