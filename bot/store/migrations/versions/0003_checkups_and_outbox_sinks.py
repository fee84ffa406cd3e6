"""checkups and outbox sinks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:31:49.605577
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=128), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=64), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("deployed_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("late_seconds", sa.Float(), nullable=True),
        sa.Column("color", sa.String(length=16), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "offset_seconds", name="uq_checkups_release_offset"),
    )
    with op.batch_alter_table("checkups", schema=None) as batch_op:
        batch_op.create_index("ix_checkups_state_due", ["state", "due_at"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sink", sa.String(length=16), nullable=False, server_default="slack")
        )
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_outbox_dedup_key", ["dedup_key"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_dedup_key", type_="unique")
        batch_op.drop_column("dedup_key")
        batch_op.drop_column("sink")

    with op.batch_alter_table("checkups", schema=None) as batch_op:
        batch_op.drop_index("ix_checkups_state_due")

    op.drop_table("checkups")
