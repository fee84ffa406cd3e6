"""watch failures

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00.000000

How many of a watch's evaluations could not be judged (Prometheus unreachable, or judging
raised): `/metrics` counts them in `herald_checkups_failed_total{kind="watch"}`. Watches
written before start at 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failures", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("watches", schema=None) as batch_op:
        batch_op.drop_column("failures")
