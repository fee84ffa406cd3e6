"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401  (registers the tables)
from bot.store.database import sync_url
from bot.store.migrate import (
    MigrationFailed,
    alembic_config,
    head_revision,
    upgrade,
    upgrade_if_behind,
)

TABLES = {
    "releases",
    "release_events",
    "slack_messages",
    "inbox",
    "outbox",
    "audit",
    "action_claims",
    "channel_paces",
    "checkups",
    "watches",
    "dora_days",
    "freezes",
    "rehearsals",
    "approvals",
    "approval_votes",
    "incidents",
    "dm_subscribers",
}


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def head(url: str) -> str:
    revision = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_creates_every_table_and_matches_the_models(database_url: str) -> None:
    upgrade(database_url)
    with engine_for(database_url) as engine:
        assert table_names(engine) == TABLES == set(SQLModel.metadata.tables)
        assert current(engine) == head(database_url)
        with engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert drift == [], "models and migrations disagree: write a migration"


def test_upgrade_twice_is_a_no_op_and_keeps_data(database_url: str) -> None:
    upgrade(database_url)
    with engine_for(database_url) as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO inbox (key, source, received_at) "
                    "VALUES ('slack:event:Ev1', 'slack', '2025-10-02 20:00:00')"
                )
            )
        upgrade(database_url)
        assert current(engine) == head(database_url)
        assert table_names(engine) == TABLES
        with engine.connect() as conn:
            assert conn.execute(text("SELECT key FROM inbox")).scalars().all() == [
                "slack:event:Ev1"
            ]


def test_the_newest_migration_file_is_the_head_alembic_upgrades_to(sqlite_url: str) -> None:
    assert head_revision() == head(sqlite_url)


def test_herald_serve_brings_a_database_that_is_behind_to_head(database_url: str) -> None:
    upgrade_if_behind(database_url, in_child=True)  # a new database, as `herald serve` does
    with engine_for(database_url) as engine:
        assert current(engine) == head(database_url)
        command.downgrade(alembic_config(database_url), "0012")
        upgrade_if_behind(database_url, in_child=True)  # a Herald newer than its database
        assert current(engine) == head(database_url)
        assert table_names(engine) == TABLES


def test_an_up_to_date_database_is_not_migrated_and_alembic_not_loaded(database_url: str) -> None:
    """A restarted Herald keeps Alembic (and Mako, Pygments) out of its memory."""
    upgrade(database_url)
    probe = (
        "import json, sys\n"
        "from bot.store.migrate import upgrade_if_behind\n"
        "upgrade_if_behind(sys.argv[1])\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, database_url], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert [name for name in loaded if name.split(".")[0] in ("alembic", "mako")] == []


def test_a_new_database_is_migrated_by_a_process_of_its_own(database_url: str) -> None:
    """`herald serve`'s first start on a new database keeps Alembic out of its memory too."""
    probe = (
        "import json, sys\n"
        "from bot.store.migrate import upgrade_if_behind\n"
        "upgrade_if_behind(sys.argv[1], in_child=True)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, database_url], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert [name for name in loaded if name.split(".")[0] in ("alembic", "mako")] == []
    with engine_for(database_url) as engine:
        assert current(engine) == head(database_url)


def test_a_migration_that_fails_in_its_process_stops_the_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'herald.db'}"
    with pytest.raises(MigrationFailed, match="Migrating the database failed"):
        upgrade_if_behind(url, in_child=True)


def test_downgrade_to_base_then_upgrade_to_head(database_url: str) -> None:
    config = alembic_config(database_url)
    upgrade(database_url)
    command.downgrade(config, "base")
    with engine_for(database_url) as engine:
        assert table_names(engine) == set()
        assert current(engine) is None
        command.upgrade(config, "head")
        assert table_names(engine) == TABLES
        assert current(engine) == head(database_url)


def test_claims_taken_before_attempts_become_finished_first_attempts(database_url: str) -> None:
    upgrade(database_url, "0006")
    with engine_for(database_url) as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO action_claims (key, actor, at) "
                    "VALUES ('promote:webapp-prod:abc:1:paused', 'U0OWNER', '2025-10-02 20:00:00')"
                )
            )
        upgrade(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT scope, attempt, left_state, finished_at, at FROM action_claims")
            ).one()
        assert (row.scope, row.attempt, row.left_state) == (None, 1, "unknown")
        assert row.finished_at == row.at


def test_outbox_rows_written_before_updates_existed_are_posts(database_url: str) -> None:
    upgrade(database_url, "0008")
    with engine_for(database_url) as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO releases (id, service, env, version, owner, manifest, digest, "
                    "revision, received_at, links) VALUES ('rel-1', 'webapp', 'prod', '1.0.0', "
                    "'team', '{}', 'd', 1, '2025-10-02 20:00:00', '{}')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO outbox (release_id, sink, channel, role, body, state, urgent, "
                    "attempts, ambiguous, next_attempt_at, created_at) VALUES ('rel-1', 'slack', "
                    "'CFEED', 'feed_root', '{}', 'pending', false, 0, false, "
                    "'2025-10-02 20:00:00', '2025-10-02 20:00:00')"
                )
            )
        upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT operation FROM outbox")).scalars().all() == ["post"]
