"""dm subscribers

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 04:00:00.000000

`dm_subscribers`: who asked, on Herald's Home tab, for a DM when a release of their services
ships or fails (bot/store/dms.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dm_subscribers",
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user"),
    )


def downgrade() -> None:
    op.drop_table("dm_subscribers")
