"""SQLModel tables: releases, their events, Slack messages, the inbox and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.store.types import utc_field


class ReleaseRow(SQLModel, table=True):
    __tablename__ = "releases"
    __table_args__ = (
        Index("ix_releases_service_env_received", "service", "env", "received_at"),
        # DORA (bot/store/dora.py) reads these, never the table: one range scan per window
        # and question, per service/env or across services. Rework needs the manifest's
        # `risk`: partial indexes hold the few emergency releases, so JSON is read for those
        # only (SQLite) or not at all (PostgreSQL).
        Index(
            "ix_releases_dora_service_deployed",
            "service",
            "env",
            "deployed_at",
            "lead_time_seconds",
            "failed_at",
            "rolled_back_at",
        ),
        Index(
            "ix_releases_dora_deployed",
            "deployed_at",
            "env",
            "lead_time_seconds",
            "failed_at",
            "rolled_back_at",
        ),
        Index("ix_releases_dora_service_failed", "service", "env", "failed_at", "recovered_at"),
        Index("ix_releases_dora_failed", "failed_at", "env", "recovered_at"),
        Index(
            "ix_releases_dora_service_emergency",
            "service",
            "env",
            "deployed_at",
            "rolled_back_at",
            sqlite_where=text("json_extract(manifest, '$.risk') = 'emergency'"),
            postgresql_where=text("(manifest ->> 'risk') = 'emergency'"),
        ),
        Index(
            "ix_releases_dora_emergency",
            "deployed_at",
            "env",
            "rolled_back_at",
            sqlite_where=text("json_extract(manifest, '$.risk') = 'emergency'"),
            postgresql_where=text("(manifest ->> 'risk') = 'emergency'"),
        ),
        # Change failure rate and rework: the deploys that failed or were rolled back (~1 in 10).
        Index(
            "ix_releases_dora_service_failed_deploys",
            "service",
            "env",
            "deployed_at",
            "failed_at",
            "rolled_back_at",
            sqlite_where=text("failed_at IS NOT NULL OR rolled_back_at IS NOT NULL"),
            postgresql_where=text("failed_at IS NOT NULL OR rolled_back_at IS NOT NULL"),
        ),
        Index(
            "ix_releases_dora_failed_deploys",
            "deployed_at",
            "env",
            "failed_at",
            "rolled_back_at",
            sqlite_where=text("failed_at IS NOT NULL OR rolled_back_at IS NOT NULL"),
            postgresql_where=text("failed_at IS NOT NULL OR rolled_back_at IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=128)
    service: str = Field(max_length=64)
    env: str = Field(max_length=64)
    version: str = Field(max_length=128)
    owner: str = Field(max_length=128)
    state: str | None = Field(default=None, max_length=32)
    manifest: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    digest: str = Field(max_length=64)
    revision: int = 0
    received_at: datetime = utc_field()
    planned_at: datetime | None = utc_field(nullable=True)
    started_at: datetime | None = utc_field(nullable=True)
    deployed_at: datetime | None = utc_field(nullable=True, index=True)
    failed_at: datetime | None = utc_field(nullable=True)
    rolled_back_at: datetime | None = utc_field(nullable=True)
    recovered_at: datetime | None = utc_field(nullable=True)
    lead_time_seconds: float | None = None
    links: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DoraDayRow(SQLModel, table=True):
    """One UTC day of one service and env, as DORA reads it (bot/store/dora_days.py): the
    deploys of that day (`deployed_at` in it) and the failures (`failed_at` in it).

    Triggers on `releases` (migration 0016) bump `version` in the transaction that inserts,
    changes or deletes a release touching the day; the figures are valid while `summarized`
    equals `version`, and are recomputed from `releases` on read otherwise. The arrays are
    packed little-endian: `deploy_seconds` int32 seconds into the day of each deploy,
    `lead_times` float64 positive lead times, `restore_times` float64 seconds from failed to
    recovered; each sorted."""

    __tablename__ = "dora_days"
    __table_args__ = (Index("ix_dora_days_service_env_day", "service", "env", "day"),)

    day: int = Field(primary_key=True)  # days since 1970-01-01, UTC
    service: str = Field(primary_key=True, max_length=64)
    env: str = Field(primary_key=True, max_length=64)
    version: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})
    summarized: int | None = None
    deploys: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    failed_deploys: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    rework_deploys: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    deploy_seconds: bytes | None = Field(default=None, sa_type=LargeBinary)
    lead_times: bytes | None = Field(default=None, sa_type=LargeBinary)
    restore_times: bytes | None = Field(default=None, sa_type=LargeBinary)


class EventRow(SQLModel, table=True):
    __tablename__ = "release_events"
    __table_args__ = (UniqueConstraint("release_id", "type", name="uq_release_events_type"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: str = Field(foreign_key="releases.id", max_length=128, index=True)
    type: str = Field(max_length=32)
    at: datetime = utc_field()
    received_at: datetime = utc_field()
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class SlackMessageRow(SQLModel, table=True):
    """Every message Herald posted: where it is, so threads survive restarts."""

    __tablename__ = "slack_messages"
    __table_args__ = (
        UniqueConstraint("channel", "ts", name="uq_slack_messages_channel_ts"),
        Index("ix_slack_messages_release_role", "release_id", "role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: str = Field(max_length=128)  # a release's id, or a report period's subject
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    role: str = Field(max_length=32)
    event_type: str | None = Field(default=None, max_length=32)
    outbox_id: int = Field(unique=True)
    posted_at: datetime = utc_field()


class InboxRow(SQLModel, table=True):
    """Every inbound request Herald acted on, under its unique key: duplicates are dropped."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index(
            "ix_inbox_pending",
            "claimed_at",
            "received_at",
            sqlite_where=text("request IS NOT NULL"),
            postgresql_where=text("request IS NOT NULL"),
        ),
    )

    key: str = Field(primary_key=True, max_length=255)
    source: str = Field(max_length=32)
    received_at: datetime = utc_field(index=True)
    # a Slack command or button press whose work is not done yet (cleared when it is)
    request: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    done_at: datetime | None = utc_field(nullable=True)
    # who carries the request out, renewed while it runs; a claim left stale is taken again
    claimed_by: str | None = Field(default=None, max_length=96)
    claimed_at: datetime | None = utc_field(nullable=True)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class OutboxRow(SQLModel, table=True):
    """A message waiting to leave, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_channel_state_id", "channel", "state", "id"),
        Index("ix_outbox_channel_urgent_state_id", "channel", "urgent", "state", "id"),
        Index("ix_outbox_release_channel_state_id", "release_id", "channel", "state", "id"),
        Index("ix_outbox_state_id", "state", "id"),  # dead letters, newest first
        Index("ix_outbox_sink_state_created", "sink", "state", "created_at"),  # retention
    )

    id: int | None = Field(default=None, primary_key=True)
    # a release's id, or the subject of a scheduled report's period (`report:digest:<date>`)
    release_id: str = Field(max_length=128)
    sink: str = Field(default="slack", max_length=16)  # slack | pagerduty
    dedup_key: str | None = Field(default=None, max_length=255, unique=True)
    channel: str = Field(max_length=32)
    role: str = Field(max_length=32)
    thread_role: str | None = Field(default=None, max_length=32)
    event_type: str | None = Field(default=None, max_length=32)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # post: a new message; update: new content for the message posted under `role` (chat.update);
    # upload: a file (a report's chart) shared in the thread of `thread_role`
    operation: str = Field(
        default="post", max_length=8, sa_column_kwargs={"server_default": text("'post'")}
    )
    state: str = Field(default="pending", max_length=16)  # pending sending sent dead replaced
    urgent: bool = False
    attempts: int = 0  # failed tries, plus one while a send is in flight (a 429 is no failure)
    ambiguous: bool = False
    next_attempt_at: datetime = utc_field()
    lease_until: datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_field()
    sent_at: datetime | None = utc_field(nullable=True)
    ts: str | None = Field(default=None, max_length=32)
    failing_since: datetime | None = utc_field(nullable=True)  # its first failure; bounds retries
    dead_at: datetime | None = utc_field(nullable=True)  # given up on: a dead letter


class AuditRow(SQLModel, table=True):
    """Append-only: every command and button press, allowed or not, and what came of it."""

    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    decision: str = Field(max_length=16)
    outcome: str = Field(max_length=16)
    service: str | None = Field(default=None, max_length=64)
    env: str | None = Field(default=None, max_length=64)
    release_id: str | None = Field(default=None, max_length=128, index=True)
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    detail: str = Field(default="", max_length=2000)
    response: str = Field(default="", max_length=4000)
    correlation_id: str | None = Field(default=None, max_length=64)


class ChannelPaceRow(SQLModel, table=True):
    """Slack's pace in a channel after a 429, shared by every process that posts there
    (bot/store/channel_paces.py)."""

    __tablename__ = "channel_paces"

    channel: str = Field(primary_key=True, max_length=32)
    paced_until: datetime = utc_field()  # the pace ends then, unless Slack pushes back again
    next_post_at: datetime = utc_field()  # no process posts in the channel before then


class ActionClaimRow(SQLModel, table=True):
    """One row per attempt of a one-time action (a promote from a given step, a rollback of a
    release): the first attempt under the action's key, a later one under `<key>#<attempt>`."""

    __tablename__ = "action_claims"
    __table_args__ = (Index("ix_action_claims_scope_attempt", "scope", "attempt"),)

    key: str = Field(primary_key=True, max_length=255)
    actor: str = Field(max_length=64)
    at: datetime = utc_field()
    # the action's key, the same for all its attempts (NULL in rows claimed before attempts)
    scope: str | None = Field(default=None, max_length=255)
    attempt: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})
    left_state: str | None = Field(default=None, max_length=255)  # what the action left behind
    finished_at: datetime | None = utc_field(nullable=True)


class CheckupRow(SQLModel, table=True):
    """A post-deploy checkup: Herald's own durable schedule (APScheduler is only the timer)."""

    __tablename__ = "checkups"
    __table_args__ = (
        UniqueConstraint("release_id", "offset_seconds", name="uq_checkups_release_offset"),
        Index("ix_checkups_state_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: str = Field(foreign_key="releases.id", max_length=128)
    service: str = Field(max_length=64)
    env: str = Field(max_length=64)
    offset_seconds: int
    deployed_at: datetime = utc_field()
    due_at: datetime = utc_field()
    state: str = Field(default="pending", max_length=16)  # pending running rollback done superseded
    attempts: int = 0
    lease_until: datetime | None = utc_field(nullable=True)
    started_at: datetime | None = utc_field(nullable=True)
    finished_at: datetime | None = utc_field(nullable=True)
    late_seconds: float | None = None
    color: str | None = Field(default=None, max_length=16)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WatchRow(SQLModel, table=True):
    """A release's early watch, or its service's recovery watch: re-judged every interval."""

    __tablename__ = "watches"
    __table_args__ = (
        UniqueConstraint("release_id", "purpose", name="uq_watches_release_purpose"),
        Index("ix_watches_state_due", "state", "due_at"),
        Index("ix_watches_service_env_state", "service", "env", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: str = Field(foreign_key="releases.id", max_length=128)
    service: str = Field(max_length=64)
    env: str = Field(max_length=64)
    purpose: str = Field(max_length=16)  # release | recovery
    origin: datetime = utc_field()
    ends_at: datetime = utc_field()
    due_at: datetime = utc_field()
    # active rollback (red, auto-rollback owed) | done superseded expired recovered
    state: str = Field(default="active", max_length=16)
    attempts: int = 0
    lease_until: datetime | None = utc_field(nullable=True)
    progress: str = Field(sa_column=Column(Text, nullable=False))  # WatchState as JSON
    posted: bool = False
    color: str | None = Field(default=None, max_length=16)  # the colour announced
    reason: str | None = Field(default=None, max_length=500)  # the last evaluation's, one line
    # evaluations that could not be judged (UNKNOWN: Prometheus unreachable, judging raised)
    failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    healthy_since: datetime | None = utc_field(nullable=True)
    alert_resolved_at: datetime | None = utc_field(nullable=True)
    canary_hash: str | None = Field(default=None, max_length=64)
    stable_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field()
    finished_at: datetime | None = utc_field(nullable=True)


class FreezeRow(SQLModel, table=True):
    """A freeze an admin declared with `/deploy freeze` (bot/store/freezes.py); the
    catalogue's windows are not stored."""

    __tablename__ = "freezes"

    id: int | None = Field(default=None, primary_key=True)
    service: str | None = Field(default=None, max_length=64)  # None: every service
    env: str | None = Field(default=None, max_length=64)  # None: every env
    reason: str = Field(max_length=300)
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field(index=True)
    created_by: str = Field(max_length=32)
    ended_at: datetime | None = utc_field(nullable=True)  # unfrozen early, by `ended_by`
    ended_by: str | None = Field(default=None, max_length=32)


class RehearsalRow(SQLModel, table=True):
    """A rollback rehearsal reported for a release's version (bot/store/rehearsals.py)."""

    __tablename__ = "rehearsals"
    __table_args__ = (Index("ix_rehearsals_service_version", "service", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: str = Field(max_length=128)
    service: str = Field(max_length=64)
    version: str = Field(max_length=128)
    env: str = Field(max_length=64)
    passed: bool
    at: datetime = utc_field()
    link: str | None = Field(default=None, max_length=2000)
    received_at: datetime = utc_field()


from bot.store import approval_tables, dm_tables, incident_tables  # noqa: E402

TABLE_MODULES = (approval_tables, incident_tables, dm_tables)  # go/no-go, incidents, DMs
