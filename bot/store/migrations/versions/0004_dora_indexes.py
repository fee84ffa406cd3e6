"""dora indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_releases_service_env_deployed", ["service", "env", "deployed_at"], unique=False
        )
        batch_op.create_index(
            "ix_releases_service_env_failed", ["service", "env", "failed_at"], unique=False
        )
        batch_op.create_index("ix_releases_failed_at", ["failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index("ix_releases_failed_at")
        batch_op.drop_index("ix_releases_service_env_failed")
        batch_op.drop_index("ix_releases_service_env_deployed")
