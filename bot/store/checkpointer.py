"""SQLite's WAL checkpoints, on a thread of their own instead of inside somebody's commit.

By default the commit that takes the write-ahead log past 1,000 pages copies the log back
into the database file and syncs it before it returns: with `synchronous=NORMAL` that sync
is the only one Herald's writes ever wait for, and it lands on whichever write came at the
wrong moment — an inbox insert a Slack ack waits on, while the write gate holds every other
writer of the process behind it. Herald's connections switch that off
(`wal_autocheckpoint=0`) and this thread checkpoints instead, PASSIVE (it never waits for a
reader or a writer), every `every` seconds.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)
EVERY = 1.0  # seconds: the log stays a few MB under a storm


class Checkpointer:
    def __init__(self, path: str, *, every: float = EVERY) -> None:
        self._path = path
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="herald-sqlite-checkpoint")
        self._thread.daemon = True  # a stuck sync must not keep the process from exiting
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
        try:
            while not self._stop.wait(self._every):
                self._checkpoint(connection)
            self._checkpoint(connection)  # the last one, as the process stops
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # busy with another process's checkpoint: next time
            log.debug("checkpoint skipped", extra={"error": str(exc)})

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
