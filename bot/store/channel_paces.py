"""Slack's pace in a channel, kept in the database so every process posting there keeps it.

Slack's limit (about one post a second per channel) is the channel's, not a process's. After
a 429, the process that heard it records the channel's pace (`throttle`): until
`paced_until` each post there, by any replica, moves `next_post_at` on by the spacing
(`posted`), and no process claims the channel's next message before then (`not_paced`, part
of the outbox's claim). When and how long are the caller's (bot/slack/pacing.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.release_rows import table_of
from bot.store.tables import ChannelPaceRow

PACES = table_of(ChannelPaceRow)


def throttle(
    connection: Connection, *, channel: str, next_post_at: datetime, paced_until: datetime
) -> None:
    """Slack said 429 in `channel`: nobody posts there before `next_post_at`, and posts keep
    to the pace until `paced_until`."""
    insert: Any = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    values = {"channel": channel, "next_post_at": next_post_at, "paced_until": paced_until}
    statement = insert(PACES).values(values)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[PACES.c.channel],
            set_={"next_post_at": next_post_at, "paced_until": paced_until},
        )
    )


def posted(connection: Connection, *, channel: str, now: datetime, spacing: timedelta) -> None:
    """A post went out in `channel`: while it is paced, the next waits `spacing`."""
    connection.execute(
        update(PACES)
        .where(PACES.c.channel == channel, PACES.c.paced_until > now)
        .values(next_post_at=now + spacing)
    )


def held_until(connection: Connection, *, channel: str, now: datetime) -> datetime | None:
    """When `channel`'s next post may go, if its pace holds it back at `now`."""
    statement = select(PACES.c.next_post_at).where(
        PACES.c.channel == channel, PACES.c.next_post_at > now
    )
    found: datetime | None = connection.scalar(statement)
    return found


def not_paced(channel: Any, now: Any) -> ColumnElement[bool]:
    """No pace holds `channel`'s next post back at `now` (bound parameters of a claim)."""
    return ~exists().where(PACES.c.channel == channel, PACES.c.next_post_at > now)
