"""Who is on call for a service right now: a port the PagerDuty adapter implements."""

from __future__ import annotations

from typing import Protocol

from bot.domain.text import Text, User, join
from bot.errors import DomainError


class OnCallLookupError(DomainError):
    """The on-call could not be read. `message` is a sentence a user can be shown; Herald
    then grants nothing on the strength of being on call (fails closed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OnCallDirectory(Protocol):
    async def on_call(self, service: str) -> frozenset[str]:
        """Slack user ids of the people on call for `service` now; empty when the service has
        no escalation policy or nobody is on call. Raises OnCallLookupError."""
        ...


def mention_all(users: frozenset[str]) -> Text:
    """A mention of each user, comma-separated, in a stable order."""
    return join(", ", [User(user) for user in sorted(users)])
