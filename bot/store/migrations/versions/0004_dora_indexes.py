"""dora indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000

Covering indexes for bot/store/dora.py (each DORA question is answered from an index alone),
and partial indexes of the emergency releases (rework), so the manifest's JSON is not read
for every release in a window.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EMERGENCY = {
    "sqlite_where": sa.text("json_extract(manifest, '$.risk') = 'emergency'"),
    "postgresql_where": sa.text("(manifest ->> 'risk') = 'emergency'"),
}
INDEXES: list[tuple[str, list[str], dict[str, Any]]] = [
    (
        "ix_releases_dora_service_deployed",
        ["service", "env", "deployed_at", "lead_time_seconds", "failed_at", "rolled_back_at"],
        {},
    ),
    (
        "ix_releases_dora_deployed",
        ["deployed_at", "env", "lead_time_seconds", "failed_at", "rolled_back_at"],
        {},
    ),
    ("ix_releases_dora_service_failed", ["service", "env", "failed_at", "recovered_at"], {}),
    ("ix_releases_dora_failed", ["failed_at", "env", "recovered_at"], {}),
    (
        "ix_releases_dora_service_emergency",
        ["service", "env", "deployed_at", "rolled_back_at"],
        EMERGENCY,
    ),
    ("ix_releases_dora_emergency", ["deployed_at", "env", "rolled_back_at"], EMERGENCY),
]


def upgrade() -> None:
    for name, columns, where in INDEXES:
        op.create_index(name, "releases", columns, unique=False, **where)


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="releases")
