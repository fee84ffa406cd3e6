"""channel paces

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:40:00.000000

`channel_paces`: after Slack answers 429 in a channel, the pace every Herald process keeps
there for a while (bot/store/channel_paces.py): with two replicas posting to one channel,
each learned of a 429 only from its own posts and the other kept posting into the limit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_paces",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("paced_until", UtcDateTime(), nullable=False),
        sa.Column("next_post_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_paces")
