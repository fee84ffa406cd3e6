"""retention indexes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:00:00.000000

The prune job (bot/store/retention.py) deletes delivered Slack outbox rows older than the
retention, a batch at a time. This index hands it those rows oldest first without reading
the rows it keeps (open, dead, PagerDuty's). The inbox's prune uses `ix_inbox_received_at`.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_sink_state_created", ["sink", "state", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sink_state_created")
