"""incidents

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 03:40:00.000000

`incidents`: a failed release's incident commander, latest update, the release that fixes it
forward, and its retro (bot/store/incidents.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("release_id", sa.String(length=128), nullable=False),
        sa.Column("commander", sa.String(length=64), nullable=True),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("symptom", sa.String(length=300), nullable=False),
        sa.Column("blast_radius", sa.String(length=300), nullable=False),
        sa.Column("flag_state", sa.String(length=300), nullable=False),
        sa.Column("next_action", sa.String(length=300), nullable=False),
        sa.Column("eta", sa.String(length=300), nullable=False),
        sa.Column("fix_forward", sa.String(length=128), nullable=True),
        sa.Column("reminded_at", UtcDateTime(), nullable=True),
        sa.Column("retro_link", sa.String(length=2000), nullable=True),
        sa.Column("retro_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("release_id"),
    )
    op.create_index("ix_incidents_fix_forward", "incidents", ["fix_forward"])


def downgrade() -> None:
    op.drop_index("ix_incidents_fix_forward", table_name="incidents")
    op.drop_table("incidents")
