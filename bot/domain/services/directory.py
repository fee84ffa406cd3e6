"""The services Herald knows: owners, admins and where each environment is deployed."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.approval.policy import ApprovalPolicy
from bot.domain.deploy.tool import DeployTarget
from bot.domain.text import Code, Text, text
from bot.errors import DomainError


class UnknownTarget(DomainError):
    """The command names a service or environment Herald does not know; `text` says what it
    does know (`message` is the same sentence in plain text)."""

    def __init__(self, message: Text | str, *, suggestions: tuple[str, ...] = ()) -> None:
        self.text = message if isinstance(message, Text) else text(message)
        super().__init__(self.text.plain())
        self.suggestions = suggestions


@dataclass(frozen=True)
class ServiceEnv:
    service: str
    env: str
    target: DeployTarget | None


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    owners: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    envs: Mapping[str, ServiceEnv] = field(default_factory=dict)
    approvals: ApprovalPolicy | None = None  # None: no change of it needs approval

    def default_env(self) -> str | None:
        """`prod` when the service has it, else its only environment."""
        if "prod" in self.envs:
            return "prod"
        return next(iter(self.envs)) if len(self.envs) == 1 else None


@dataclass(frozen=True)
class Directory:
    services: Mapping[str, ServiceEntry] = field(default_factory=dict)
    admins: tuple[str, ...] = ()

    def names(self) -> list[str]:
        return sorted(self.services)

    def approval_policy(self, service: str) -> ApprovalPolicy | None:
        """Who approves the service's changes; None for a service without a policy."""
        entry = self.services.get(service)
        return None if entry is None else entry.approvals

    def service(self, name: str) -> ServiceEntry:
        entry = self.services.get(name.lower())
        if entry is not None:
            return entry
        close = tuple(difflib.get_close_matches(name.lower(), self.names(), n=3, cutoff=0.5))
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        known = ", ".join(self.names()) or "none (HERALD_CONFIG lists no services)"
        raise UnknownTarget(
            text("Unknown service ", Code(name), f".{hint} Known services: {known}."),
            suggestions=close,
        )

    def resolve(self, service: str, env: str | None) -> ServiceEnv:
        entry = self.service(service)
        chosen = env or entry.default_env()
        if chosen is None:
            envs = ", ".join(sorted(entry.envs)) or "none configured"
            raise UnknownTarget(
                text(Code(entry.name), f" has several environments ({envs}); say which.")
            )
        found = entry.envs.get(chosen)
        if found is None:
            envs = ", ".join(sorted(entry.envs)) or "none configured"
            raise UnknownTarget(
                text(Code(entry.name), " has no environment ", Code(chosen), f". Known: {envs}.")
            )
        return found

    def is_env(self, service: str, word: str) -> bool:
        entry = self.services.get(service.lower())
        return entry is not None and word in entry.envs
