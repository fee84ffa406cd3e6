"""outbox urgent indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 21:45:00.000000

The claim looks for the first urgent open message of a channel whose release has no earlier
open message there (bot/store/outbox.py): one index walks a channel's urgent open rows in
order, the other answers "an earlier open row of this release here?" with a seek.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_channel_urgent_state_id", ["channel", "urgent", "state", "id"]
        )
        batch_op.create_index(
            "ix_outbox_release_channel_state_id", ["release_id", "channel", "state", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_release_channel_state_id")
        batch_op.drop_index("ix_outbox_channel_urgent_state_id")
