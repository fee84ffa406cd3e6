"""What a carried-out rollback records in the release's lifecycle: failed, then rolled back."""

from __future__ import annotations

from bot.domain.deploy.context import SYSTEM_ACTOR, Operations
from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType, is_legal
from bot.domain.release.recording import record_event
from bot.domain.transactions import ChangedConcurrently, run_in_transaction


async def record_rolled_back(
    ops: Operations, *, release_id: str | None, to_version: str | None, actor: str
) -> None:
    """A rollback means the release failed: record failed (when still legal), then rolled_back."""
    if release_id is None:
        return
    automatic = actor == SYSTEM_ACTOR
    symptom = (
        "rolled back automatically by Herald"
        if automatic
        else "rolled back from Slack with /deploy rollback"
    )
    await _record_if_legal(
        ops, release_id, EventRequest(event=EventType.FAILED, symptom=symptom, actor=actor)
    )
    await _record_if_legal(
        ops,
        release_id,
        EventRequest(
            event=EventType.ROLLED_BACK,
            to_version=to_version,
            actor=actor,
            reason="automatic rollback (auto_rollback policy)" if automatic else "/deploy rollback",
        ),
    )


async def _record_if_legal(ops: Operations, release_id: str, request: EventRequest) -> None:
    async def record(ledger: Ledger) -> None:
        release = await ledger.get_release(release_id)
        if release is None or not is_legal(release.state, request.event):
            return
        await record_event(ledger=ledger, release_id=release_id, request=request, now=ops.clock())

    try:
        await run_in_transaction(ops.ledgers, record)
    except ChangedConcurrently:  # the rollback itself is done; its record is best effort
        return
