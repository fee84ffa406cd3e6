"""SQLite mode is one Herald: a second `herald serve` on the same database file refuses to start.

Two processes on one SQLite file would each run the checkup clock and the outbox senders
without PostgreSQL's row locks to share them; replicas need PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class AnotherHeraldRunning(RuntimeError):
    pass


class InstanceLock:
    """An exclusive lock on `<database>.lock`, held while Herald runs; the OS frees it when the
    process dies, SIGKILL included, so a crash never leaves Herald unable to start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AnotherHeraldRunning(
                f"Another Herald is already running on {self.path.with_suffix('')}. SQLite "
                "mode runs one Herald; stop the other one, or use PostgreSQL "
                "(HERALD_DATABASE_URL=postgresql+psycopg://…) for several replicas."
            ) from None
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def instance_lock(database_url: str) -> InstanceLock | None:
    """The lock for a SQLite file database; None for PostgreSQL and in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = Path(url.database).resolve()
    return InstanceLock(database.with_name(database.name + ".lock"))
