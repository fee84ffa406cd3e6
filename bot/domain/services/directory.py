"""The services Herald knows: owners, admins and where each environment is deployed."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.deploy.tool import DeployTarget
from bot.errors import DomainError


class UnknownTarget(DomainError):
    """The command names a service or environment Herald does not know; says what it does know."""

    def __init__(self, message: str, *, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
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

    def service(self, name: str) -> ServiceEntry:
        entry = self.services.get(name.lower())
        if entry is not None:
            return entry
        close = tuple(difflib.get_close_matches(name.lower(), self.names(), n=3, cutoff=0.5))
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        known = ", ".join(self.names()) or "none (HERALD_CONFIG lists no services)"
        raise UnknownTarget(
            f"Unknown service `{name}`.{hint} Known services: {known}.", suggestions=close
        )

    def resolve(self, service: str, env: str | None) -> ServiceEnv:
        entry = self.service(service)
        chosen = env or entry.default_env()
        if chosen is None:
            envs = ", ".join(sorted(entry.envs)) or "none configured"
            raise UnknownTarget(f"`{entry.name}` has several environments ({envs}); say which.")
        found = entry.envs.get(chosen)
        if found is None:
            envs = ", ".join(sorted(entry.envs)) or "none configured"
            raise UnknownTarget(f"`{entry.name}` has no environment `{chosen}`. Known: {envs}.")
        return found

    def is_env(self, service: str, word: str) -> bool:
        entry = self.services.get(service.lower())
        return entry is not None and word in entry.envs
