"""What Herald knows about a deployment tool (Argo CD + Argo Rollouts), in plain types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.errors import DomainError


@dataclass(frozen=True)
class RolloutRef:
    name: str
    namespace: str


@dataclass(frozen=True)
class DeployTarget:
    """Where one service and environment live in Argo CD."""

    app: str
    project: str | None = None
    app_namespace: str | None = None
    rollout: RolloutRef | None = None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    revision: str
    deployed_at: datetime | None = None


@dataclass(frozen=True)
class AppStatus:
    name: str
    sync_status: str  # Synced | OutOfSync | Unknown
    health_status: str  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    revision: str | None
    auto_sync: bool
    self_heal: bool = False
    health_message: str | None = None
    operation_phase: str | None = None  # Running | Terminating | Failed | Error | Succeeded
    operation_message: str | None = None
    history: tuple[HistoryEntry, ...] = ()
    images: tuple[str, ...] = ()

    @property
    def operation_running(self) -> bool:
        return self.operation_phase in ("Running", "Terminating")


@dataclass(frozen=True)
class CanaryStep:
    set_weight: int | None = None
    pause: bool = False
    pause_seconds: int | None = None


@dataclass(frozen=True)
class RolloutStatus:
    name: str
    namespace: str
    phase: str  # Healthy | Degraded | Progressing | Paused
    step_index: int | None
    steps: tuple[CanaryStep, ...]
    set_weight: int
    actual_weight: int | None
    paused: bool
    aborted: bool
    message: str | None = None
    pause_reasons: tuple[str, ...] = ()
    fully_promoted: bool = False
    generation: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def in_flight(self) -> bool:
        """A canary that has started but not finished (or was aborted)."""
        return not self.fully_promoted and not self.aborted and self.step_index is not None


class RolloutAction(StrEnum):
    RESUME = "resume"
    SKIP_CURRENT_STEP = "skip-current-step"
    PROMOTE_FULL = "promote-full"
    PAUSE = "pause"
    ABORT = "abort"
    RETRY = "retry"


class DeployFailure(StrEnum):
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    DENIED = "denied"
    AUTO_SYNC = "auto_sync"
    IN_PROGRESS = "in_progress"
    UNSUPPORTED = "unsupported"
    INVALID = "invalid"


class DeployToolError(DomainError):
    """A deployment tool call failed; `message` is a sentence a user can act on."""

    def __init__(self, kind: DeployFailure, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class DeployTool(Protocol):
    """Reads and writes one deployment tool; every write names its `actor`, the Slack user id
    (or ``SYSTEM_ACTOR`` for Herald's own auto-rollback), which the adapter logs."""

    async def get_app(self, target: DeployTarget) -> AppStatus: ...

    async def get_rollout(self, target: DeployTarget) -> RolloutStatus: ...

    async def list_actions(self, target: DeployTarget) -> dict[str, bool]:
        """Rollout action name → enabled (Argo CD computes `disabled` from live state)."""
        ...

    async def run_action(
        self, target: DeployTarget, action: RolloutAction, *, actor: str
    ) -> None: ...

    async def rollback(
        self, target: DeployTarget, *, history_id: int, requested_by: str
    ) -> None: ...

    async def set_auto_sync(self, target: DeployTarget, *, enabled: bool, actor: str) -> None: ...

    async def terminate_operation(self, target: DeployTarget, *, actor: str) -> None: ...
