"""What a service requires of others, who requires it, and what a change would break, read
from the newest release of each service and env in Herald's own store."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.gate.reason import Reason
from bot.domain.gate.requirements import check_requirement
from bot.domain.ports import ReleaseReader
from bot.domain.release.manifest import Requirement
from bot.domain.release.model import Release


@dataclass(frozen=True)
class Needed:
    """One requirement of one release, checked against what runs there now."""

    release: Release
    requirement: Requirement
    reason: Reason

    @property
    def met(self) -> bool:
        return self.reason.code == "requires_met"

    @property
    def env(self) -> str:
        return self.requirement.env or self.release.env


@dataclass(frozen=True)
class DependencyReport:
    service: str
    requires: tuple[Needed, ...]  # of the service's newest release in each env
    required_by: tuple[Needed, ...]  # other services' newest releases naming it


async def build_dependency_report(releases: ReleaseReader, *, service: str) -> DependencyReport:
    newest = await releases.newest_each()
    own = [release for release in newest if release.service == service]
    requires = [
        Needed(release, need, await check_requirement(releases, release, need))
        for release in own
        for need in release.manifest.requires
    ]
    return DependencyReport(
        service, tuple(requires), tuple(await _dependents(releases, newest, service))
    )


async def _dependents(
    releases: ReleaseReader, newest: list[Release], service: str, env: str | None = None
) -> list[Needed]:
    found = []
    for release in newest:
        if release.service == service:
            continue
        for need in release.manifest.requires:
            if need.service == service and (env is None or (need.env or release.env) == env):
                found.append(
                    Needed(release, need, await check_requirement(releases, release, need))
                )
    return found


async def unmet_requirements(releases: ReleaseReader, release: Release) -> list[str]:
    """What `release` requires and does not run where it needs it, one sentence each."""
    reasons = [await check_requirement(releases, release, n) for n in release.manifest.requires]
    return [reason.message for reason in reasons if reason.code == "requires_unmet"]


async def broken_by_rollback(
    releases: ReleaseReader, *, service: str, env: str, to_version: str
) -> list[str]:
    """The dependents whose requirement the running version of `service` in `env` meets and
    `to_version` would not: one sentence each."""
    dependents = await _dependents(releases, await releases.newest_each(), service, env)
    return [
        f"{d.release.service} {d.release.version} ({d.release.env}) requires {service}"
        f" {d.requirement.version}, which {to_version} is not"
        for d in dependents
        if d.met and d.requirement.satisfied_by(to_version) is False
    ]
