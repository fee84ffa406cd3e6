"""A failed release is restored when a healthy deploy of its service and env lands.

Teams recover by rolling back (Argo CD deploys the previous release's revision), by reverting
in Git, or by shipping a fix: in each case Argo CD reports *another* release deployed and
healthy, and the failed one would otherwise stay open forever, with no time to restore.
Where a recovery watch is judging the service after a rollback (`bot/domain/watch/
recovery.py`), it decides instead: a healthy deploy is not yet healthy metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.ports import Ledger, ReleaseReader
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Release
from bot.domain.release.recording import record_event
from bot.domain.text import display_version

LOOK_BACK = timedelta(days=7)  # a failure older than this was settled by a human, or never
OPEN = (EventType.FAILED, EventType.ROLLED_BACK)


async def unrecovered(
    releases: ReleaseReader, *, service: str, env: str, now: datetime
) -> list[Release]:
    """Failed (or rolled back) releases of `service` in `env` not yet recovered."""
    return await releases.failed_unrecovered(since=now - LOOK_BACK, service=service, env=env)


async def record_restored(
    *,
    ledger: Ledger,
    candidates: Sequence[Release],
    by: Release,
    how: str,
    at: datetime,
    now: datetime,
) -> tuple[str, ...]:
    """`by` is deployed and healthy at `at`: every candidate that failed before then and is
    still open is recovered (in this transaction). Returns their ids."""
    restored = []
    for candidate in candidates:
        if candidate.id == by.id:
            continue
        current = await ledger.get_release(candidate.id)
        failed_at = current.times.get(EventType.FAILED) if current else None
        if current is None or current.state not in OPEN or failed_at is None or failed_at > at:
            continue
        if await ledger.watching_recovery(current.id):
            continue  # its recovery watch confirms recovery by health, not by a deploy
        reason = f"{how}: {by.id} ({display_version(by.version)}) is deployed and healthy"
        request = EventRequest(event=EventType.RECOVERED, at=at, reason=reason[:500])
        outcome = await record_event(ledger=ledger, release_id=current.id, request=request, now=now)
        if outcome.created:
            restored.append(current.id)
    return tuple(restored)
