"""A watch in flight: the release's first minutes, or the service after a rollback.

``WatchPurpose.RELEASE`` judges a release from R (``release.started`` for a canary, else
``release.deployed``) for its first ``duration``; a red there does what a red checkup does.
``WatchPurpose.RECOVERY`` judges the service again from the rollback on, until it has been
healthy for ``recovery_hold`` (or the alert that fired has resolved and health agrees): then
the release is recovered. Past ``recovery_within`` without that, the thread hears so and the
page stays open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.signals.rollback_policy import AutoRollbackPolicy
from bot.domain.watch.hysteresis import WatchState
from bot.domain.watch.policy import DEFAULT_WATCH_POLICY, WatchPolicy
from bot.domain.watch.queries import CanaryScope, WatchQueries
from bot.errors import DomainError

__all__ = ["LostWatch", "Watch", "WatchConfig", "WatchPurpose", "watch_key"]


class LostWatch(DomainError):
    """Another runner took the watch (this one's lease ran out): what it judged is dropped."""


class WatchPurpose(StrEnum):
    RELEASE = "release"
    RECOVERY = "recovery"


def watch_key(purpose: WatchPurpose) -> str:
    """The name of the watch's one message, edited in place (``Notice.key``)."""
    return "watch" if purpose is WatchPurpose.RELEASE else "recovery_watch"


@dataclass(frozen=True)
class WatchConfig:
    """How one service is watched (the catalogue's ``watch``, with defaults)."""

    policy: WatchPolicy = DEFAULT_WATCH_POLICY
    queries: WatchQueries = field(default_factory=WatchQueries)
    canary: bool = False  # a Rollout: the watch starts at release.started
    rollback: AutoRollbackPolicy = field(default_factory=AutoRollbackPolicy)
    recovery_hold: timedelta = timedelta(minutes=2)
    recovery_within: timedelta = timedelta(minutes=15)

    def ends_at(self, purpose: WatchPurpose, origin: datetime) -> datetime:
        if purpose is WatchPurpose.RELEASE:
            return origin + self.policy.duration
        return origin + self.recovery_within


@dataclass(frozen=True)
class Watch:
    """One watch row as the runner sees it. ``state`` is the hysteresis between evaluations."""

    id: int
    release_id: str
    service: str
    env: str
    purpose: WatchPurpose
    state: WatchState
    ends_at: datetime
    attempts: int = 1
    posted: bool = False  # the watch's message is in the outbox (later ones edit it)
    rollback_owed: bool = False  # red, and the auto-rollback it called for is not done
    healthy_since: datetime | None = None  # recovery: the first of the green evaluations in a row
    alert_resolved_at: datetime | None = None  # recovery: the release's alert resolved then
    canary: CanaryScope | None = None

    @property
    def origin(self) -> datetime:
        return self.state.origin

    def over(self, now: datetime) -> bool:
        return now >= self.ends_at
