"""Who may change a release: the service's owners (people or user groups) and admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.services import ServiceEntry


class GroupLookupError(Exception):
    """Group membership could not be read; Herald then refuses (fails closed)."""


class GroupDirectory(Protocol):
    async def members(self, group_id: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str


def _is_group(principal: str) -> bool:
    return principal.startswith("S")


async def check_access(
    *, user: str, entry: ServiceEntry, admins: tuple[str, ...], groups: GroupDirectory
) -> AccessDecision:
    """Allow owners and admins, directly or through a user group; refuse when unsure."""
    principals = (*entry.owners, *entry.admins, *admins)
    if user in principals:
        role = "owner" if user in entry.owners else "admin"
        return AccessDecision(True, f"<@{user}> is an {role} of {entry.name}")
    failures: list[str] = []
    for group in dict.fromkeys(p for p in principals if _is_group(p)):
        try:
            if user in await groups.members(group):
                return AccessDecision(True, f"<@{user}> is in <!subteam^{group}>")
        except GroupLookupError as exc:
            failures.append(f"<!subteam^{group}> ({exc})")
    if failures:
        return AccessDecision(
            False,
            "Herald could not check membership of "
            + ", ".join(failures)
            + "; it refuses changes it cannot authorize. Try again, or ask an admin.",
        )
    owners = ", ".join(_mention(p) for p in entry.owners) or "nobody yet"
    return AccessDecision(False, f"Only owners of {entry.name} ({owners}) and admins may do that.")


def _mention(principal: str) -> str:
    return f"<!subteam^{principal}>" if _is_group(principal) else f"<@{principal}>"
