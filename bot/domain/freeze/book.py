"""Where freezes come from: the catalogue's windows, and those admins declare in Slack
(`/deploy freeze`), kept by a store behind the `FreezeBook` port."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.freeze.calendar import FreezeCalendar
from bot.errors import DomainError


@dataclass(frozen=True)
class DeclaredFreeze:
    """A freeze declared with `/deploy freeze`: one service or all (None), one env or all."""

    service: str | None
    env: str | None
    reason: str
    start: datetime
    end: datetime
    by: str


class FreezeBook(Protocol):
    async def calendar(self, *, now: datetime) -> FreezeCalendar:
        """The catalogue's windows and the declared freezes in force or recently over."""
        ...

    async def declare(self, freeze: DeclaredFreeze) -> str:
        """Keep `freeze`; its window's name (`freeze-12`)."""
        ...

    async def lift(self, *, service: str | None, env: str | None, by: str, at: datetime) -> int:
        """End early every declared freeze of exactly this scope in force at `at`; how many."""
        ...


@dataclass(frozen=True)
class FixedFreezes:
    """The catalogue's windows alone, where no store keeps declared freezes."""

    fixed: FreezeCalendar = field(default_factory=FreezeCalendar)

    async def calendar(self, *, now: datetime) -> FreezeCalendar:
        return self.fixed

    async def declare(self, freeze: DeclaredFreeze) -> str:
        raise DomainError("Freezes cannot be declared here; add them to the catalogue.")

    async def lift(self, *, service: str | None, env: str | None, by: str, at: datetime) -> int:
        return 0
