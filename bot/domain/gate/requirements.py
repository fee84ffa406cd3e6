"""Whether what a release requires runs where it needs it (`requires:` in the manifest)."""

from __future__ import annotations

from bot.domain.gate.reason import Reason
from bot.domain.ports import ReleaseReader
from bot.domain.release.manifest import Requirement
from bot.domain.release.model import Release


async def check_requirement(releases: ReleaseReader, release: Release, need: Requirement) -> Reason:
    env = need.env or release.env
    running = await releases.running(service=need.service, env=env)
    wanted = f"{release.service} {release.version} requires {need.service} {need.version} in {env}"
    if running is None:
        return Reason("requires_unmet", f"{wanted}; nothing is deployed there yet.")
    met = need.satisfied_by(running.version)
    if met is None:
        return Reason(
            "requires_unmet", f"{wanted}; it runs {running.version}, not a PEP 440 version."
        )
    if not met:
        return Reason("requires_unmet", f"{wanted}; it runs {running.version}.")
    return Reason("requires_met", f"{wanted}: it runs {running.version}.")
