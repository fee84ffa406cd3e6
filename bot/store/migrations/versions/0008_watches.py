"""watches

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:00:00.000000

The early watch of a release (its first minutes, re-judged every 15-30 s) and the recovery
watch after a rollback: one row each per release, claimed like checkups (state, due_at,
lease), with the hysteresis kept as JSON in `progress`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=128), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("origin", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("posted", sa.Boolean(), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("healthy_since", UtcDateTime(), nullable=True),
        sa.Column("alert_resolved_at", UtcDateTime(), nullable=True),
        sa.Column("canary_hash", sa.String(length=64), nullable=True),
        sa.Column("stable_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "purpose", name="uq_watches_release_purpose"),
    )
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.create_index("ix_watches_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index(
            "ix_watches_service_env_state", ["service", "env", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.drop_index("ix_watches_service_env_state")
        batch_op.drop_index("ix_watches_state_due")
    op.drop_table("watches")
