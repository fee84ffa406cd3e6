"""outbox dead letters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:00:00.000000

Backoff follows the cause: a 429 is a wait, not a failure, so `attempts` counts failures
(plus one while a send is in flight). `failing_since` is when the message first failed; once
it has been failing for `HERALD_DELIVERY_GIVE_UP_SECONDS` it is a dead letter, stamped
`dead_at`, and its channel moves on. Dead letters are listed newest first by state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failing_since", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("dead_at", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_outbox_state_id", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_id")
        batch_op.drop_column("dead_at")
        batch_op.drop_column("failing_since")
