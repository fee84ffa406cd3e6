"""Fresh databases for the ingest benchmark's cells: SQLite files in a folder, or databases
on one PostgreSQL server (a throwaway one started as the tests start theirs, or
`--postgres-url`, a server the benchmark may CREATE DATABASE and DROP DATABASE on)."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# create (name → URL), drop, and the postmaster's pid where the server was started here
Server = tuple[Callable[[str], str], Callable[[str], None], int | None]


@dataclass
class Databases:
    kind: str  # sqlite | postgres
    folder: Path
    create: Callable[[str], str] | None = None  # postgres: name → SQLAlchemy URL
    drop: Callable[[str], None] | None = None
    made: list[str] = field(default_factory=list)
    server_pid: int | None = None  # a PostgreSQL server started here: its postmaster

    @property
    def postgres(self) -> bool:
        return self.kind == "postgres"

    def fresh(self, name: str) -> str:
        """The URL of a new, empty database for one cell."""
        if self.create is None:
            return f"sqlite:///{self.folder / name}.db"
        safe = "b_" + re.sub(r"[^a-z0-9_]", "_", name.lower())
        self.made.append(safe)
        return self.create(safe)

    def drop_all(self) -> None:
        for name in self.made if self.drop else []:
            assert self.drop is not None
            self.drop(name)


@contextlib.asynccontextmanager
async def databases(kind: str, url: str | None, folder: Path) -> AsyncIterator[Databases]:
    if kind == "sqlite":
        yield Databases(kind, folder)
        return
    with _postgres(url) as (create, drop, pid):
        dbs = Databases(kind, folder, create, drop, server_pid=pid)
        try:
            yield dbs
        finally:
            dbs.drop_all()


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[Server]:
    if url is not None:
        yield (*_on_server(url), None)
        return
    from tests.harness.postgres import start_postgres

    base = Path(tempfile.mkdtemp(prefix="herald-bench-pg-"))
    base.chmod(0o755)  # the server runs as `postgres` when we are root
    try:
        server = start_postgres(base)
        try:
            pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            yield server.create_database, server.drop_database, pid
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _on_server(url: str) -> tuple[Callable[[str], str], Callable[[str], None]]:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(drivername="postgresql")

    def run(statement: sql.Composed) -> None:
        conninfo = admin.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def create(name: str) -> str:
        run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        found = admin.set(drivername="postgresql+psycopg", database=name)
        return found.render_as_string(hide_password=False)

    def drop(name: str) -> None:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return create, drop
