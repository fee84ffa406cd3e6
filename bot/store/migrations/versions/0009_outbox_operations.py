"""outbox operations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:00:00.000000

An outbox row is either a post (a new Slack message) or an update: the new content of the
message a release posted under a key (its `role`), delivered with `chat.update`. Every row
written before is a post. A pending update that a newer one for the same message makes
pointless is marked `replaced` (a new outbox state, no schema change).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "operation", sa.String(length=8), nullable=False, server_default=sa.text("'post'")
            )
        )


def downgrade() -> None:
    # an older Herald would post an update as a new message: drop the updates not yet sent
    op.execute(
        "UPDATE outbox SET state = 'dead', last_error = 'downgraded: updates unsupported' "
        "WHERE operation = 'update' AND state IN ('pending', 'sending')"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("operation")
