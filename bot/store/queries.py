"""Read models for the API: a release with its events and messages, and release listings."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from bot.domain.release.model import Release
from bot.store.database import Database
from bot.store.dead_letters import dead_letters_in
from bot.store.release_rows import release_from_row
from bot.store.tables import AuditRow, EventRow, OutboxRow, ReleaseRow, SlackMessageRow


def release_view(row: ReleaseRow) -> dict[str, Any]:
    return describe_release(release_from_row(row))


def describe_release(release: Release) -> dict[str, Any]:
    """The API's view of a release."""
    return {
        "id": release.id,
        "service": release.service,
        "env": release.env,
        "version": release.version,
        "owner": release.owner,
        "state": release.state.value if release.state else None,
        "received_at": release.received_at.isoformat(),
        "times": {event.value: at.isoformat() for event, at in release.times.items()},
        "lead_time_seconds": release.lead_time_seconds,
        "links": release.links(),
        "manifest": release.manifest.canonical(),
    }


def message_link(channel: str, ts: str) -> str:
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


async def get_release_detail(*, database: Database, release_id: str) -> dict[str, Any] | None:
    async with database.read() as session:
        row = await session.get(ReleaseRow, release_id)
        if row is None:
            return None
        events = (
            await session.execute(
                select(EventRow)
                .where(col(EventRow.release_id) == release_id)
                .order_by(col(EventRow.id))
            )
        ).scalars()
        messages = (
            await session.execute(
                select(SlackMessageRow)
                .where(col(SlackMessageRow.release_id) == release_id)
                .order_by(col(SlackMessageRow.id))
            )
        ).scalars()
        pending = (
            await session.execute(
                select(col(OutboxRow.id)).where(
                    col(OutboxRow.release_id) == release_id,
                    col(OutboxRow.state).in_(("pending", "sending")),
                )
            )
        ).all()
        dead = await dead_letters_in(session, limit=100, release_id=release_id)
        trail = (
            await session.execute(
                select(AuditRow)
                .where(col(AuditRow.release_id) == release_id)
                .order_by(col(AuditRow.id))
                .limit(500)
            )
        ).scalars()
        return {
            "release": release_view(row),
            "events": [{**e.payload, "received_at": e.received_at.isoformat()} for e in events],
            "messages": [
                {
                    "channel": m.channel,
                    "ts": m.ts,
                    "thread_ts": m.thread_ts,
                    "role": m.role,
                    "event": m.event_type,
                    "link": message_link(m.channel, m.ts),
                }
                for m in messages
            ],
            "messages_pending": len(pending),
            "dead_letters": dead,
            "audit": [
                {
                    "at": entry.at.isoformat(),
                    "actor": entry.actor,
                    "action": entry.action,
                    "decision": entry.decision,
                    "outcome": entry.outcome,
                    "detail": entry.detail,
                }
                for entry in trail
            ],
        }


async def list_releases(
    *, database: Database, service: str | None, env: str | None, limit: int
) -> list[dict[str, Any]]:
    statement = select(ReleaseRow).order_by(col(ReleaseRow.received_at).desc()).limit(limit)
    if service:
        statement = statement.where(col(ReleaseRow.service) == service)
    if env:
        statement = statement.where(col(ReleaseRow.env) == env)
    async with database.read() as session:
        return [release_view(row) for row in (await session.execute(statement)).scalars()]
