"""dora days

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 10:30:00.000000

`dora_days`: one UTC day of one service and env, summarized for DORA (bot/store/dora_days.py),
so a year-long report reads ~365 rows per service instead of every release. Triggers on
`releases` bump a day's `version` in the very transaction that inserts, changes or deletes a
release whose `deployed_at` or `failed_at` falls on it (whoever writes: the ledger, retention,
a bulk load), so a summary is never read once its day has changed: it is valid while
`summarized` equals `version`. Days with releases today get a row here, to be summarized on
the first read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# What DORA reads of a release; an update that changes none of it leaves its days alone.
CHANGED_SQLITE = """
    OLD.service IS NOT NEW.service OR OLD.env IS NOT NEW.env
    OR OLD.deployed_at IS NOT NEW.deployed_at OR OLD.failed_at IS NOT NEW.failed_at
    OR OLD.rolled_back_at IS NOT NEW.rolled_back_at OR OLD.recovered_at IS NOT NEW.recovered_at
    OR OLD.lead_time_seconds IS NOT NEW.lead_time_seconds
    OR json_extract(OLD.manifest, '$.risk') IS NOT json_extract(NEW.manifest, '$.risk')
"""
CHANGED_POSTGRESQL = """
    OLD.service IS DISTINCT FROM NEW.service OR OLD.env IS DISTINCT FROM NEW.env
    OR OLD.deployed_at IS DISTINCT FROM NEW.deployed_at
    OR OLD.failed_at IS DISTINCT FROM NEW.failed_at
    OR OLD.rolled_back_at IS DISTINCT FROM NEW.rolled_back_at
    OR OLD.recovered_at IS DISTINCT FROM NEW.recovered_at
    OR OLD.lead_time_seconds IS DISTINCT FROM NEW.lead_time_seconds
    OR (OLD.manifest ->> 'risk') IS DISTINCT FROM (NEW.manifest ->> 'risk')
"""
DAY_SQLITE = "CAST(strftime('%s', k.t) AS INTEGER) / 86400"
DAY_POSTGRESQL = "floor(extract(epoch FROM k.t) / 86400)::integer"
# The days' keys in order, each once (a row is not upserted twice in one statement, and
# writers lock the rows in the same order).
BUMP = """
    INSERT INTO dora_days (day, service, env)
    SELECT DISTINCT {day}, k.s, k.e FROM ({keys}) AS k
    WHERE k.t IS NOT NULL ORDER BY 1, 2, 3
    ON CONFLICT (day, service, env) DO UPDATE SET version = dora_days.version + 1;
"""


def _keys(*rows: str) -> str:
    return " UNION ALL ".join(
        f"SELECT {row}.{column} AS t, {row}.service AS s, {row}.env AS e"
        for row in rows
        for column in ("deployed_at", "failed_at")
    )


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, when: str, condition: str, *rows: str) -> str:
        bump = BUMP.format(day=DAY_SQLITE, keys=_keys(*rows))
        return f"CREATE TRIGGER {name} AFTER {when} ON releases WHEN {condition} BEGIN {bump} END"

    some = "{0}.deployed_at IS NOT NULL OR {0}.failed_at IS NOT NULL"
    return [
        trigger("dora_days_release_inserted", "INSERT", some.format("NEW"), "NEW"),
        trigger("dora_days_release_updated", "UPDATE", CHANGED_SQLITE, "OLD", "NEW"),
        trigger("dora_days_release_deleted", "DELETE", some.format("OLD"), "OLD"),
    ]


def _postgresql_trigger() -> list[str]:
    old = BUMP.format(day=DAY_POSTGRESQL, keys=_keys("OLD"))
    new = BUMP.format(day=DAY_POSTGRESQL, keys=_keys("NEW"))
    both = BUMP.format(day=DAY_POSTGRESQL, keys=_keys("OLD", "NEW"))
    function = f"""
        CREATE FUNCTION dora_days_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN {new}
            ELSIF TG_OP = 'DELETE' THEN {old}
            ELSIF {CHANGED_POSTGRESQL} THEN {both}
            END IF;
            RETURN NULL;
        END $$
    """
    trigger = """
        CREATE TRIGGER dora_days_release_written
        AFTER INSERT OR DELETE OR UPDATE ON releases
        FOR EACH ROW EXECUTE FUNCTION dora_days_touch()
    """
    return [function, trigger]


def upgrade() -> None:
    op.create_table(
        "dora_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("env", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("summarized", sa.Integer(), nullable=True),
        sa.Column("deploys", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_deploys", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rework_deploys", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deploy_seconds", sa.LargeBinary(), nullable=True),
        sa.Column("lead_times", sa.LargeBinary(), nullable=True),
        sa.Column("restore_times", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("day", "service", "env"),
    )
    op.create_index("ix_dora_days_service_env_day", "dora_days", ["service", "env", "day"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    day = DAY_SQLITE if sqlite else DAY_POSTGRESQL
    op.execute(
        f"INSERT INTO dora_days (day, service, env) SELECT DISTINCT {day}, k.s, k.e FROM "
        "(SELECT deployed_at AS t, service AS s, env AS e FROM releases "
        "UNION ALL SELECT failed_at, service, env FROM releases) AS k WHERE k.t IS NOT NULL"
    )
    for statement in _sqlite_triggers() if sqlite else _postgresql_trigger():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("inserted", "updated", "deleted"):
            op.execute(f"DROP TRIGGER dora_days_release_{name}")
    else:
        op.execute("DROP TRIGGER dora_days_release_written ON releases")
        op.execute("DROP FUNCTION dora_days_touch()")
    op.drop_index("ix_dora_days_service_env_day", table_name="dora_days")
    op.drop_table("dora_days")
