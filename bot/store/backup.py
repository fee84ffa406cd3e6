"""`herald db backup`: a consistent copy of a live SQLite database, through SQLite's own
online backup API. PostgreSQL has pg_dump for that (README, "Backups")."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.store.database import is_sqlite

PG_DUMP_HINT = (
    "herald db backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. "
    'pg_dump --format=custom --file=herald.dump "$HERALD_DATABASE_URL" '
    "(restore with pg_restore --no-owner --dbname=...; see the README, Backups)"
)


class BackupRefused(Exception):
    """The database cannot be copied by this command; the message says what to do instead."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    bytes: int


def sqlite_path(url: str) -> Path:
    if not is_sqlite(url):
        raise BackupRefused(PG_DUMP_HINT)
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupRefused("an in-memory SQLite database has nothing to back up")
    return Path(database)


def backup_sqlite(url: str, target: Path) -> BackupResult:
    """Copy the database at `url` to `target` while Herald keeps writing.

    One backup step copies every page under a single read transaction: in WAL mode writers
    go on, and the copy is the database as of that transaction's start. It is written next
    to `target`, checked with `PRAGMA integrity_check`, then moved into place."""
    source_path = sqlite_path(url)
    if target.exists():
        raise BackupRefused(f"{target} exists; choose a new file")
    if not source_path.exists():
        raise BackupRefused(f"no database at {source_path}")
    partial = target.with_name(f".{target.name}.partial")
    source = sqlite3.connect(source_path, timeout=30)  # reads only
    try:
        with contextlib.closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # pages=-1: all of them in one step, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _check(copy)
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return BackupResult(path=target, pages=pages, bytes=target.stat().st_size)


def _check(copy: sqlite3.Connection) -> None:
    verdict = [row[0] for row in copy.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        raise BackupRefused(f"the copy failed its integrity check: {'; '.join(verdict[:5])}")
