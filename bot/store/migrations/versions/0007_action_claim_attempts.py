"""action claim attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00.000000

A one-time action may be owed again for real (an operator retries an aborted canary: same
revision, same step), so a claim is for one attempt of it (`scope`, `attempt`), and records
when its action finished and the state it left behind, which tells a later attempt apart.

A row claimed before is attempt 1 of its key and is found by that key (`scope` stays NULL,
as in rows a Herald of the previous version still writes during a rolling upgrade). Those
rows are taken as finished, the state they left unknown: a later caller acts in a new
attempt only if it reads the deploy tool twice and finds it in the state the action starts
from, so an action that had gone through is not repeated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.add_column(sa.Column("left_state", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("finished_at", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_action_claims_scope_attempt", ["scope", "attempt"])
    op.execute("UPDATE action_claims SET left_state = 'unknown', finished_at = at")


def downgrade() -> None:
    with op.batch_alter_table("action_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_action_claims_scope_attempt")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("left_state")
        batch_op.drop_column("attempt")
        batch_op.drop_column("scope")
