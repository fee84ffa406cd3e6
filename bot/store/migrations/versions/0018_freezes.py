"""freezes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 01:10:00.000000

`freezes`: change freezes an admin declares in Slack (`/deploy freeze`), beside the
catalogue's windows; `/deploy unfreeze` ends one early (bot/store/freezes.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("env", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_freezes_ends_at", "freezes", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_freezes_ends_at", table_name="freezes")
    op.drop_table("freezes")
