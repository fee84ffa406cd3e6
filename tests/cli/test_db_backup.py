"""`herald db backup PATH`: a copy of the running database an operator can restore from."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from bot.examples import example_manifest
from tests.conftest import Herald
from tests.herald_process import run_herald
from tests.waiting import eventually


def release_ids(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {row[0] for row in db.execute("SELECT id FROM releases")}


async def test_a_backup_taken_while_herald_records_releases_is_whole(
    herald: Herald, sqlite_url: str, tmp_path: Path
) -> None:
    answered: list[str] = []
    stop = asyncio.Event()

    async def keep_planning() -> None:
        for n in range(100_000):
            if stop.is_set():
                return
            release = {**example_manifest(), "id": f"rel-backup-{n}", "version": f"1.{n}.0"}
            status, _ = await herald.post_manifest(release)
            assert status == 201
            answered.append(release["id"])

    planning = asyncio.create_task(keep_planning())
    await eventually(lambda: len(answered) >= 20)
    before = set(answered)
    copy = tmp_path / "backup" / "herald-copy.db"
    copy.parent.mkdir()
    backup = await run_herald("db", "backup", str(copy), env={"HERALD_DATABASE_URL": sqlite_url})
    after = set(answered)
    stop.set()
    await planning
    assert backup.code == 0, backup.err
    assert f"to {copy}" in backup.out
    saved = release_ids(copy)
    assert before <= saved  # every release Herald had answered for is in the copy
    assert saved <= after | {f"rel-backup-{len(after)}"}  # and nothing it never recorded
    assert len(release_ids(tmp_path / "herald.db")) > len(before)  # Herald went on writing
    assert list(copy.parent.iterdir()) == [copy]  # no partial file left behind


async def test_a_backup_never_overwrites_a_file(sqlite_url: str, tmp_path: Path) -> None:
    existing = tmp_path / "keep.db"
    existing.write_text("yesterday's backup")
    backup = await run_herald(
        "db", "backup", str(existing), env={"HERALD_DATABASE_URL": sqlite_url}
    )
    assert backup.code == 2
    assert "exists" in backup.err
    assert existing.read_text() == "yesterday's backup"


async def test_postgresql_is_backed_up_with_pg_dump(tmp_path: Path) -> None:
    url = "postgresql://herald@db.example.com/herald"
    backup = await run_herald(
        "db", "backup", str(tmp_path / "x.db"), env={"HERALD_DATABASE_URL": url}
    )
    assert backup.code == 2
    assert "pg_dump --format=custom" in backup.err
    assert not (tmp_path / "x.db").exists()
