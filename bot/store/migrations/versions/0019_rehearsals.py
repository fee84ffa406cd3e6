"""rehearsals

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 01:30:00.000000

`rehearsals`: rollback rehearsals CI reports for a release's version in another env
(`POST /api/v1/releases/{id}/rehearsals`, bot/store/rehearsals.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rehearsals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=128), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("env", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("link", sa.String(length=2000), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rehearsals_service_version", "rehearsals", ["service", "version"])


def downgrade() -> None:
    op.drop_index("ix_rehearsals_service_version", table_name="rehearsals")
    op.drop_table("rehearsals")
