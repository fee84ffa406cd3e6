"""Running a use case in one transaction, again when a concurrent writer got there first.

Releases are written compare-and-set (`Ledger.save_release` raises `ConcurrentWrite` when the
revision moved meanwhile), so a use case that loses the race is simply run again on what the
winner wrote. When every attempt loses, `ChangedConcurrently` says so; at the HTTP edge it is
503 with `Retry-After: 1`, which webhook senders and `herald emit` retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.domain.ports import ConcurrentWrite, Ledger, LedgerFactory
from bot.errors import DomainError

T = TypeVar("T")
ATTEMPTS = 3


class ChangedConcurrently(DomainError):
    """A concurrent writer changed the release on every attempt; sending it again may work."""

    status = 503
    retry_after = 1  # seconds

    def __init__(self, message: str = "the release changed concurrently; send it again") -> None:
        super().__init__(message)


async def run_in_transaction(
    ledgers: LedgerFactory, use_case: Callable[[Ledger], Awaitable[T]], *, attempts: int = ATTEMPTS
) -> T:
    """`use_case` in one transaction; again, in a new one, while a concurrent writer wins."""
    lost: ConcurrentWrite | None = None
    for _ in range(attempts):
        try:
            return await ledgers.run(use_case)
        except ConcurrentWrite as exc:
            lost = exc
    raise ChangedConcurrently() from lost
