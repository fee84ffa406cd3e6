"""Who may change a release: the service's owners (people or user groups), admins and the
service's current on-call (PagerDuty)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.services.directory import ServiceEntry
from bot.domain.services.oncall import OnCallDirectory, OnCallLookupError, mention_all
from bot.domain.text import Group, Span, Text, User, join, text
from bot.errors import DomainError


class GroupLookupError(DomainError):
    """Group membership could not be read; Herald then refuses (fails closed)."""


class GroupDirectory(Protocol):
    async def members(self, group_id: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: Text


def _is_group(principal: str) -> bool:
    return principal.startswith("S")


async def check_access(
    *,
    user: str,
    entry: ServiceEntry,
    admins: tuple[str, ...],
    groups: GroupDirectory,
    oncall: OnCallDirectory | None = None,
) -> AccessDecision:
    """Allow owners, admins and the on-call, directly or through a user group; refuse when
    unsure (a lookup that failed never grants anything)."""
    principals = (*entry.owners, *entry.admins, *admins)
    if user in principals:
        role = "owner" if user in entry.owners else "admin"
        return AccessDecision(True, text(User(user), f" is an {role} of {entry.name}"))
    failures: list[Text] = []
    for group in dict.fromkeys(p for p in principals if _is_group(p)):
        try:
            if user in await groups.members(group):
                return AccessDecision(True, text(User(user), " is in ", Group(group)))
        except GroupLookupError as exc:
            failures.append(text(Group(group), f" ({exc})"))
    on_call: frozenset[str] = frozenset()
    unknown_on_call: str | None = None
    if oncall is not None:
        try:
            on_call = await oncall.on_call(entry.name)
        except OnCallLookupError as exc:
            unknown_on_call = exc.message
        if user in on_call:
            return AccessDecision(
                True, text(User(user), f" is on call for {entry.name} (PagerDuty)")
            )
    if failures or unknown_on_call:
        return AccessDecision(False, _unsure(entry, failures, unknown_on_call))
    owners = join(", ", [_mention(p) for p in entry.owners]) or text("nobody yet")
    who = text(f"Only owners of {entry.name} (", owners, ")")
    if on_call:
        who += text(", its on-call (", mention_all(on_call), ")")
    return AccessDecision(False, who + " and admins may do that.")


def _unsure(entry: ServiceEntry, groups: list[Text], on_call: str | None) -> Text:
    checks = [text("membership of ", join(", ", groups))] if groups else []
    if on_call:
        checks.append(text(f"the on-call of {entry.name} ({on_call})"))
    return text(
        "Herald could not check ",
        join(" or ", checks),
        "; it refuses changes it cannot authorize. Try again, or ask an admin.",
    )


def _mention(principal: str) -> Span:
    return Group(principal) if _is_group(principal) else User(principal)


async def owns(user: str, entry: ServiceEntry, groups: GroupDirectory) -> bool:
    """`user` owns or administers the service, directly or through a user group; a group
    that cannot be read counts as not (this only decides what someone is shown or sent)."""
    principals = (*entry.owners, *entry.admins)
    if user in principals:
        return True
    for group in dict.fromkeys(p for p in principals if _is_group(p)):
        try:
            if user in await groups.members(group):
                return True
        except GroupLookupError:
            continue
    return False
