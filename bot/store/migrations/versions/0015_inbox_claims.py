"""inbox claims

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 18:30:00.000000

A kept Slack command or button press is now claimed by the process that carries it out
(`claimed_by`, renewed in `claimed_at` while it runs) and counts its `attempts`: the inbox
is the queue that `herald serve --workers N` hands work out from, and a claim that stops
being renewed (its process died) is handed out again once. `resumed_at` is replaced by them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_column("resumed_at")
    op.create_index(
        "ix_inbox_pending",
        "inbox",
        ["claimed_at", "received_at"],
        unique=False,
        sqlite_where=sa.text("request IS NOT NULL"),
        postgresql_where=sa.text("request IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_pending", table_name="inbox")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resumed_at", UtcDateTime(), nullable=True))
        batch_op.drop_column("attempts")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
