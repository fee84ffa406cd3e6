"""Which freezes hold a release: the catalogue's windows, asked about a service, an env and a
moment or a stretch of time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.freeze.window import FreezeWindow, Occurrence

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class FreezeCalendar:
    windows: tuple[FreezeWindow, ...] = ()

    def holding(self, service: str, env: str, *, at: datetime) -> list[Occurrence]:
        """The freezes in force for `service` in `env` at `at`, the one ending last first."""
        found = [
            occurrence
            for occurrence in self.between(service, env, start=at, end=at + _INSTANT)
            if occurrence.covers(at)
        ]
        return sorted(found, key=lambda occurrence: occurrence.end, reverse=True)

    def between(
        self, service: str | None, env: str | None, *, start: datetime, end: datetime
    ) -> list[Occurrence]:
        """Every stretch overlapping [start, end) that holds `service` in `env` (None: any),
        in time order."""
        found = [
            occurrence
            for window in self.windows
            if window.scope.holds(service, env)
            for occurrence in window.occurrences(start, end)
        ]
        return sorted(found, key=lambda occurrence: (occurrence.start, occurrence.name))
