"""Alembic, driven from code: `herald db upgrade` calls upgrade(), `herald serve`
upgrade_if_behind().

Alembic (with Mako, and Pygments where installed) is imported only to migrate: a Herald
restarted on an up-to-date database never loads it, which keeps ~6-12 MB out of the
server's resident memory. Whether the database is behind is read from `alembic_version`
against the newest revision in migrations/versions/. `herald serve` migrates a database
that is behind in a process of its own (`in_child`), so its first start on a new database
does not keep Alembic either: what Python once allocated it does not give back.
"""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import make_url

from bot.store.database import sync_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision = (?:"([^"]+)"|None)$', re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (creating a SQLite file if needed)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def upgrade_if_behind(url: str, *, in_child: bool = False) -> None:
    """upgrade() to head, unless the database is already there; `in_child`: in a spawned
    process of its own (the URL, which may hold a password, goes over its pipe, not argv)."""
    if current_revision(url) == head_revision():
        return
    if not in_child:
        upgrade(url)
        return
    child = multiprocessing.get_context("spawn").Process(
        target=upgrade, args=(url,), name="herald-migrate"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise MigrationFailed(
            f"Migrating the database failed (exit code {child.exitcode}); the error is above."
        )


class MigrationFailed(RuntimeError):
    pass


def head_revision() -> str:
    """The revision no other migration revises (the files are a single line of history)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if (revision := _REVISION.search(source)) is None:
            continue
        revisions.add(revision.group(1))
        if (down := _DOWN_REVISION.search(source)) is not None and down.group(1):
            revised.add(down.group(1))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"migrations/versions has {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def current_revision(url: str) -> str | None:
    """What `alembic_version` says, or None for a database Alembic has not touched."""
    sync = sync_url(url)
    if sync.startswith("sqlite") and not _sqlite_file_exists(sync):
        return None  # connecting would create the file; let Alembic do that
    engine = create_engine(sync, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    return str(rows[0][0]) if len(rows) == 1 else None


def _sqlite_file_exists(url: str) -> bool:
    database = make_url(url).database
    return bool(database) and database != ":memory:" and Path(str(database)).exists()
