"""inbox pending requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 21:10:00.000000

A Slack command or button press is kept with its inbox row (`request`) from before the ack
until its work is done (`done_at`), so a crash in between resumes it instead of losing it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("done_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("resumed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("resumed_at")
        batch_op.drop_column("done_at")
        batch_op.drop_column("request")
