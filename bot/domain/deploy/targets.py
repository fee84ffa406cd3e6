"""The Argo CD history entry a rollback goes back to: a version Herald has a release for, a git
sha matched against the history's revisions, or the last good release. A target Herald cannot
place in the history is refused, naming the targets there are; nothing is ever guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.deploy.context import Operations, Reply
from bot.domain.deploy.tool import AppStatus, HistoryEntry
from bot.domain.release.model import Release
from bot.domain.release.revisions import release_at
from bot.domain.services.directory import ServiceEnv
from bot.domain.text import Code, Text, join, text

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_SHOWN = 12  # characters of a revision that tell apart the entries one prefix matches


@dataclass(frozen=True)
class RollbackTarget:
    entry: HistoryEntry
    version: str | None = None  # of Herald's release at that revision, when it has one


async def choose_target(
    ops: Operations, *, where: ServiceEnv, app: AppStatus, current: Release | None, to: str | None
) -> RollbackTarget | Reply:
    """The history entry of `to` (a version or a git sha of 7+ hex characters), or, without
    `to`, of the last release before `current` that deployed and never failed."""
    if to is None:
        return await _last_good(ops, where=where, app=app, current=current)
    if _SHA.match(to):
        found = await _by_sha(ops, where=where, app=app, sha=to)
        if found is not None:
            return found
    return await _by_version(ops, where=where, app=app, version=to)


async def _last_good(
    ops: Operations, *, where: ServiceEnv, app: AppStatus, current: Release | None
) -> RollbackTarget | Reply:
    previous = await ops.releases.last_good_before(current) if current else None
    if previous is None:  # no release on record: the entry before the one running now
        older = [h for h in app.history if h.revision != app.revision]
        if not older:
            return await _refuse(ops, where, app, None, text("no earlier revision to go to."))
        return await _target(ops, where, older[-1])
    commit = previous.manifest.git.commit
    entry = _latest(h for h in app.history if h.revision.startswith(commit))
    if entry is None:
        said = text(f"no history entry matches the last good release, {previous.version} (")
        return await _refuse(ops, where, app, None, said + text(Code(commit), ")."))
    return RollbackTarget(entry, previous.version)


async def _by_sha(
    ops: Operations, *, where: ServiceEnv, app: AppStatus, sha: str
) -> RollbackTarget | Reply | None:
    """The entry whose revision starts with `sha`; None when none does and `sha` may also be
    a version (digits only)."""
    matches = [h for h in app.history if h.revision.lower().startswith(sha)]
    revisions = {h.revision: h for h in matches}  # the newest entry of each revision
    if len(revisions) > 1:
        listed = join(", ", (_revision(h, _SHOWN) for h in revisions.values()))
        said = text(Code(sha), f" matches {len(revisions)} revisions: ", listed, ".")
        return Reply(False, said + text(" Give more of the sha. Nothing was changed."))
    if revisions:
        return await _target(ops, where, next(iter(revisions.values())))
    if sha.isdigit():
        return None
    return await _refuse(ops, where, app, sha, text("no revision in the history starts with it."))


async def _by_version(
    ops: Operations, *, where: ServiceEnv, app: AppStatus, version: str
) -> RollbackTarget | Reply:
    release = await ops.releases.by_version(service=where.service, env=where.env, version=version)
    if release is None:
        said = text("Herald has no release of that version.")
        return await _refuse(ops, where, app, version, said)
    commit = release.manifest.git.commit
    entry = _latest(h for h in app.history if h.revision.startswith(commit))
    if entry is None:
        said = text("its commit ", Code(commit), " is in no history entry.")
        return await _refuse(ops, where, app, version, said)
    return RollbackTarget(entry, release.version)


async def _target(ops: Operations, where: ServiceEnv, entry: HistoryEntry) -> RollbackTarget:
    release = await release_at(
        ops.releases, service=where.service, env=where.env, revision=entry.revision
    )
    return RollbackTarget(entry, release.version if release else None)


async def _refuse(
    ops: Operations, where: ServiceEnv, app: AppStatus, to: str | None, why: Text
) -> Reply:
    """Why there is no going back to `to`, and the targets in Argo CD's history (newest first)."""
    entries = {h.revision: h for h in app.history if h.revision != app.revision}
    targets: list[Text] = []
    for entry in reversed(list(entries.values())[-10:]):
        version = (await _target(ops, where, entry)).version
        rev = Code(entry.revision[:7])
        shown = text(Code(version), f" (#{entry.id}, ", rev, ")") if version else None
        targets.append(shown or _revision(entry, 7))
    known = join(", ", targets) if targets else text("none")
    return Reply(
        False,
        text(
            "Cannot roll back ",
            Code(where.service),
            f" {where.env}",
            text(" to ", Code(to)) if to else "",
            ": ",
            why,
            " Targets in Argo CD's history of ",
            Code(app.name),
            ": ",
            known,
            ". Nothing was changed.",
        ),
    )


def _revision(entry: HistoryEntry, length: int) -> Text:
    return text(Code(entry.revision[:length]), f" (#{entry.id})")


def _latest(entries: Iterable[HistoryEntry]) -> HistoryEntry | None:
    found = list(entries)
    return found[-1] if found else None
