"""scheduled reports in the outbox

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00.000000

The daily digest and the weekly report leave through the outbox like a release's messages:
claimed and queued in one transaction, delivered once. Their rows (and the `slack_messages`
rows of their posts) name a report period (`report:digest:2026-12-01`) where a release's
name its release, so `release_id` no longer refers to `releases`. A weekly report's chart
is an outbox row of a new operation, `upload` (no schema change).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("outbox", "slack_messages")
# the names SQLite's reflection gives the unnamed foreign keys of 0001 in batch mode
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        name = f"fk_{table}_release_id_releases" if sqlite else f"{table}_release_id_fkey"
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    # an older Herald knows no report rows: drop them, sent or not, before the keys return
    op.execute("DELETE FROM slack_messages WHERE release_id NOT IN (SELECT id FROM releases)")
    op.execute("DELETE FROM outbox WHERE release_id NOT IN (SELECT id FROM releases)")
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.create_foreign_key(
                f"fk_{table}_release_id_releases", "releases", ["release_id"], ["id"]
            )
