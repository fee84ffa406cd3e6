"""A rehearsed rollback of a release's version in another env: reported by CI
(`POST /api/v1/releases/{id}/rehearsals`), or seen by Herald itself when the same version of
the service was rolled back in another env."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from bot.domain.release.manifest import Url
from bot.domain.release.timestamps import Moment


class Source(StrEnum):
    REPORTED = "reported"  # CI or a person said so
    SEEN = "seen"  # Herald recorded the same version rolled back in another env


class RehearsalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    env: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    result: Literal["passed", "failed"]
    at: Moment | None = None
    link: Url | None = None


@dataclass(frozen=True)
class Rehearsal:
    env: str
    passed: bool
    at: datetime
    source: Source
    link: str | None = None

    def describe(self, *, now: datetime) -> str:
        """`Rollback rehearsed in staging 2 days ago: passed`."""
        result = "passed" if self.passed else "failed"
        return f"Rollback rehearsed in {self.env} {_ago(now - self.at)}: {result}"

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"env": self.env, "result": "passed" if self.passed else "failed"}
        found |= {"at": self.at.isoformat(), "source": self.source.value}
        return found | ({"link": self.link} if self.link else {})


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"
