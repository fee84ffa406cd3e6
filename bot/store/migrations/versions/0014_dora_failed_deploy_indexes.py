"""dora failed deploy indexes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 18:30:00.000000

Change failure rate and rework count the deploys of a window that failed or were rolled
back: about one in ten. Partial indexes of those releases, by `deployed_at`, let
bot/store/dora.py count them without a pass over every deploy of the window. They hold the
columns of their own predicate, so they cover the count (SQLite then prefers them to the
covering index of every deploy, with no statistics to tell it which is smaller).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FAILED_OR_ROLLED_BACK = sa.text("failed_at IS NOT NULL OR rolled_back_at IS NOT NULL")
INDEXES: list[tuple[str, list[str]]] = [
    (
        "ix_releases_dora_service_failed_deploys",
        ["service", "env", "deployed_at", "failed_at", "rolled_back_at"],
    ),
    ("ix_releases_dora_failed_deploys", ["deployed_at", "env", "failed_at", "rolled_back_at"]),
]


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(
            name,
            "releases",
            columns,
            unique=False,
            sqlite_where=FAILED_OR_ROLLED_BACK,
            postgresql_where=FAILED_OR_ROLLED_BACK,
        )


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="releases")
