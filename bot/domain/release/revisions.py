"""Which release Herald has for a git revision that Argo CD reports."""

from __future__ import annotations

from bot.domain.ports import ReleaseReader
from bot.domain.release.model import Release


async def release_at(
    releases: ReleaseReader, *, service: str, env: str, revision: str
) -> Release | None:
    """The newest release of `service` in `env` whose manifest's `git.commit` (a short or a
    full sha) is a prefix of `revision`."""
    revision = revision.lower()
    for prefix in dict.fromkeys((revision[:7], revision[:4])):
        found = await releases.by_commit(service=service, env=env, sha_prefix=prefix)
        if found is not None and revision.startswith(found.manifest.git.commit.lower()):
            return found
    return None
