"""The domain's view of the outside world: Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot.domain.approval.policy import Need
from bot.domain.approval.votes import Approval, Vote
from bot.domain.checkup.verdict import Color
from bot.domain.incident.model import Incident
from bot.domain.paging import ChangeEvent, Page
from bot.domain.rehearsal.model import Rehearsal
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, RecordedEvent, Release
from bot.errors import DomainError

if TYPE_CHECKING:  # the watch's types import the rollback policy, which imports this module
    from bot.domain.watch.verdict import WatchColor
    from bot.domain.watch.watch import Watch, WatchPurpose

T = TypeVar("T")


class ConcurrentWrite(DomainError):
    """Another writer changed the release first; the use case may simply be run again."""


class Ledger(Protocol):
    """One transaction over the release store. Everything written commits together or not."""

    async def get_release(self, release_id: str) -> Release | None: ...

    async def add_release(self, release: Release) -> None: ...

    async def save_release(self, release: Release) -> None:
        """Store `release`; raises ConcurrentWrite if its revision moved meanwhile."""
        ...

    async def get_event(self, *, release_id: str, event: EventType) -> RecordedEvent | None: ...

    async def find_event_by_key(self, key: str) -> RecordedEvent | None: ...

    async def add_event(self, event: RecordedEvent) -> None: ...

    async def enqueue(self, notices: Sequence[Notice]) -> None:
        """Write the messages these notices cause into the outbox, in this transaction."""
        ...

    async def schedule_checkups(
        self, *, release: Release, deployed_at: datetime
    ) -> list[tuple[str, list[timedelta]]]:
        """Plan the release's checkups; cancel the pending ones of older releases of the same
        service and env, returning (release id, offsets) of what was superseded."""
        ...

    async def finish_checkup(
        self,
        *,
        checkup_id: int,
        color: Color,
        result: dict[str, Any],
        rollback_pending: bool = False,
    ) -> None:
        """Record the verdict. With `rollback_pending` the checkup stays open (and leased)
        until `finish_rollback`, so a crash in between resumes the rollback, never loses it."""
        ...

    async def keep_rollback_plan(self, *, checkup_id: int, plan: str) -> None:
        """Remember the chosen plan, so a resumed rollback carries out the same one."""
        ...

    async def finish_rollback(self, *, checkup_id: int, outcome: str) -> None: ...

    async def start_watch(
        self, *, release: Release, purpose: WatchPurpose, origin: datetime
    ) -> None:
        """Watch the release from `origin` (a no-op where the service is not watched, or the
        release has a watch of this purpose). A release's watch ends the live watches of older
        releases of its service and env; a recovery watch ends the release's own watch."""
        ...

    async def save_watch(
        self,
        *,
        watch: Watch,
        due_at: datetime,
        finished: str | None,
        reason: str | None,
        failed: bool = False,
    ) -> bool:
        """Keep a claimed watch's progress, next due at `due_at` (`finished` ends it in that
        state, `failed` counts an evaluation that could not be judged); False when another
        runner took the watch meanwhile."""
        ...

    async def note_alert_resolved(self, *, release_id: str, at: datetime) -> bool:
        """The release's alert resolved at `at`: its recovery watch, if live, looks again now."""
        ...

    async def watching_recovery(self, release_id: str) -> bool:
        """Whether a recovery watch is confirming the release's recovery by health."""
        ...

    async def enqueue_page(self, *, release_id: str, page: Page, deadline: datetime) -> None:
        """Page on-call once per release (the outbox delivers it to PagerDuty)."""
        ...

    async def resolve_pages(self, *, release_id: str, deadline: datetime) -> None:
        """Resolve the release's page, if it was paged."""
        ...

    async def enqueue_change(
        self, *, release_id: str, change: ChangeEvent, deadline: datetime
    ) -> None:
        """Send a PagerDuty change event once per release; a no-op where they are off."""
        ...

    async def open_approval(self, *, release_id: str, need: Need) -> None:
        """Open the release's approval request (with the release: once)."""
        ...

    async def lock_approval(self, release_id: str) -> Approval | None:
        """The release's approval request with its votes, held until the transaction ends:
        a vote counted elsewhere meanwhile waits, so each vote and the decision count once."""
        ...

    async def add_vote(self, *, approval: Approval, vote: Vote) -> None:
        """Keep `vote`, and `approval`'s state after it (the request locked first)."""
        ...

    async def claim_approval_post(self, release_id: str) -> bool:
        """Mark the approval request message queued; False when another run did already."""
        ...

    async def lock_incident(self, release_id: str) -> Incident | None:
        """The release's incident, held until the transaction ends; None before its first
        change."""
        ...

    async def fixed_by(self, release: Release) -> list[str]:
        """The unrecovered failed releases whose incident names `release` as its fix forward."""
        ...

    async def save_incident(self, incident: Incident, *, new: bool) -> None:
        """Keep `incident` (`new`: its first change; a concurrent first raises
        ConcurrentWrite, and the use case runs again)."""
        ...


class LedgerFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[Ledger]: ...

    async def run(self, use_case: Callable[[Ledger], Awaitable[T]]) -> T:
        """`use_case` in one transaction, at once: it awaits the ledger and nothing else."""
        ...


class ReleaseReader(Protocol):
    """Read-only questions about stored releases."""

    async def latest(self, *, service: str, env: str) -> Release | None: ...

    async def by_version(self, *, service: str, env: str, version: str) -> Release | None: ...

    async def running(self, *, service: str, env: str) -> Release | None:
        """The release deployed last and not rolled back there."""
        ...

    async def by_id(self, release_id: str) -> Release | None: ...

    async def approval_of(self, release_id: str) -> Approval | None:
        """The release's approval request and its votes; None when it needs none."""
        ...

    async def newest_each(self) -> list[Release]:
        """The newest release of every service and env (what depends on what)."""
        ...

    async def retros_due(self, *, since: datetime, until: datetime) -> list[str]:
        """Failed releases recovered between `since` and `until` and not reminded yet."""
        ...

    async def paged_at(self, release_id: str) -> datetime | None:
        """When the release's page reached PagerDuty; None when it never did."""
        ...

    async def incident(self, release_id: str) -> Incident | None:
        """The release's incident as it stands (commander, latest update); None: untouched."""
        ...

    async def waiting_approvals(self) -> list[str]:
        """Releases whose approval request waits for a decision, oldest first."""
        ...

    async def approvals_to_post(self) -> list[str]:
        """Releases whose approval request message is not queued yet, oldest first."""
        ...

    async def rehearsal_of(self, release: Release) -> Rehearsal | None:
        """The newest rehearsed rollback of `release`'s version in another env."""
        ...

    async def by_commit(self, *, service: str, env: str, sha_prefix: str) -> Release | None: ...

    async def last_good_before(self, release: Release) -> Release | None:
        """The newest release of the same service and env deployed before it that never failed."""
        ...

    async def in_flight(self, *, now: datetime, service: str | None = None) -> list[Release]:
        """The newest release of each service (or of `service`) and env, unless it settled
        before `now`."""
        ...

    async def failed_unrecovered(
        self, *, since: datetime, service: str | None = None, env: str | None = None
    ) -> list[Release]:
        """Releases (of `service` in `env`, when given) that failed at or after `since` and
        have not recovered, oldest first."""
        ...

    async def message_links(self, release_id: str) -> dict[str, str]:
        """Message role (`feed_root`, `ops_root`, `approval_request`) → a link to it."""
        ...

    async def checkup_summary(self, release_id: str) -> CheckupSummary:
        """The last verdict and the next checkup of a release."""
        ...

    async def watch_summary(self, release_id: str) -> WatchSummary | None:
        """The colour the release's early watch announced and its last reason; None when
        the release has no early watch or it has announced nothing yet."""
        ...


@dataclass(frozen=True)
class CheckupSummary:
    last_color: Color | None = None
    last_label: str | None = None
    next_label: str | None = None
    next_due: datetime | None = None


@dataclass(frozen=True)
class WatchSummary:
    """A release's early watch as `/deploy promote` weighs it: the colour it announced, the
    failing signal (its last evaluation's one-line reason), and when the watch ended."""

    color: WatchColor
    reason: str
    at: datetime | None = None


class AuditDecision(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class AuditOutcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"
    CAUTIONED = "cautioned"  # asked to confirm first (a promote over a red or yellow watch)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    decision: AuditDecision
    outcome: AuditOutcome
    service: str | None = None
    env: str | None = None
    release_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    response: str = ""


@dataclass(frozen=True)
class Claim:
    """Who holds a one-time action key, and since when."""

    won: bool
    holder: str
    at: datetime


@dataclass(frozen=True)
class HeldClaim:
    """The latest attempt claimed under a key: its number, who holds it and since when, and,
    once the holder's action is over, the state that action left behind (`left`)."""

    attempt: int
    holder: str
    at: datetime
    left: str | None = None


@dataclass(frozen=True)
class OpenClaim:
    """A claim whose holder never said its action was over (it may have died mid-action)."""

    key: str
    holder: str
    at: datetime


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...

    async def claim(self, *, key: str, actor: str, at: datetime, attempt: int = 1) -> Claim:
        """Compare-and-set on (`key`, `attempt`): the first caller wins; later ones learn who
        won. An action owed again for real (a retried canary) is claimed as a later attempt
        (`bot/domain/deploy/attempts.py`)."""
        ...

    async def last_claim(self, key: str) -> HeldClaim | None:
        """The latest attempt claimed under `key`, or None when it was never claimed."""
        ...

    async def finish_claim(self, *, key: str, attempt: int, left: str, at: datetime) -> None:
        """The holder's action of this attempt is over and left the state `left` behind."""
        ...

    async def open_claims(
        self, *, key_prefix: str, holder_prefix: str, before: datetime
    ) -> list[OpenClaim]:
        """Claims under keys starting `key_prefix`, held by `holder_prefix…`, taken before
        `before` and never finished: actions a restart may have cut short."""
        ...
