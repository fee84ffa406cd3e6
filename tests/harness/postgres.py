"""Throwaway PostgreSQL server on loopback for tests.

Runs the Debian PostgreSQL binaries (``/usr/lib/postgresql/<ver>/bin``) against a fresh
data directory on a free port.  ``initdb`` refuses to run as root, so when we are root the
server runs as the ``postgres`` user via ``runuser``.  Durability is switched off for speed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

__all__ = ["PostgresServer", "PostgresStartError", "find_pg_bin", "start_postgres"]

PG_USER = "postgres"
_START_ATTEMPTS = 3
_DB_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStartError(RuntimeError):
    """The test PostgreSQL server could not be initialised or started."""


def find_pg_bin() -> Path | None:
    """Newest ``/usr/lib/postgresql/<ver>/bin`` with ``initdb`` and ``pg_ctl``, else ``None``.

    Falls back to the directory of ``pg_ctl`` on ``PATH`` (non-Debian systems).
    """
    candidates: list[tuple[tuple[int, ...], Path]] = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for ver_dir in root.iterdir():
            if not re.fullmatch(r"\d+(\.\d+)*", ver_dir.name):
                continue
            key = tuple(int(p) for p in ver_dir.name.split("."))
            candidates.append((key, ver_dir / "bin"))
    for _, bin_dir in sorted(candidates, reverse=True):
        if _has_pg_tools(bin_dir):
            return bin_dir
    on_path = shutil.which("pg_ctl")
    if on_path is not None and _has_pg_tools(Path(on_path).parent):
        return Path(on_path).parent
    return None


def _has_pg_tools(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _is_root() -> bool:
    return os.geteuid() == 0


def _sqlalchemy_url(port: int, dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{dbname}"


@dataclass
class PostgresServer:
    """A running throwaway server; ``url`` points at the ``herald`` database."""

    url: str
    port: int
    data_dir: Path
    _root: Path = field(repr=False)
    _bin: Path = field(repr=False)
    _as_postgres: bool = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq conninfo string (for psycopg) for ``dbname`` on this server."""
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname={dbname}"

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` and return its SQLAlchemy URL."""
        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return _sqlalchemy_url(self.port, name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (terminates leftover sessions)."""
        _check_db_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """``pg_ctl -m immediate stop`` and remove the server's directory.  Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                as_postgres=self._as_postgres,
                cwd=self._root,
                timeout=30,
            )
        shutil.rmtree(self._root, ignore_errors=True)


def _check_db_name(name: str) -> None:
    if not _DB_NAME_RE.fullmatch(name):
        raise ValueError(f"database name must match {_DB_NAME_RE.pattern}: {name!r}")


def _run(
    cmd: list[str], *, as_postgres: bool, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["runuser", "-u", PG_USER, "--", *cmd]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _make_root(base_dir: Path, as_postgres: bool) -> Path:
    base_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="herald-pg-", dir=base_dir))
    root.chmod(0o755)
    if as_postgres:
        shutil.chown(root, user=PG_USER, group=PG_USER)
        probe = _run(["test", "-w", str(root)], as_postgres=True, cwd=Path("/"), timeout=10)
        if probe.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresStartError(
                f"user {PG_USER!r} cannot reach {root}; pass a base_dir every user can "
                "traverse (e.g. tempfile.mkdtemp() chmod 0o755 under /tmp), not pytest's tmp_path"
            )
    return root


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def start_postgres(base_dir: Path) -> PostgresServer:
    """initdb + start a server in a fresh directory under ``base_dir``; create ``herald``.

    ``base_dir`` must be traversable by the ``postgres`` user when running as root.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise PostgresStartError("PostgreSQL binaries (initdb, pg_ctl) not found")
    as_postgres = _is_root()
    if as_postgres and shutil.which("runuser") is None:
        raise PostgresStartError("running as root but `runuser` is not available")

    root = _make_root(base_dir, as_postgres)
    data_dir = root / "data"
    sock_dir = root / "sock"
    log_file = root / "postgres.log"
    try:
        init = _run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data_dir),
                "-A",
                "trust",
                "-U",
                PG_USER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            as_postgres=as_postgres,
            cwd=root,
            timeout=120,
        )
        if init.returncode != 0:
            raise PostgresStartError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        sock_dir.mkdir()
        if as_postgres:
            shutil.chown(sock_dir, user=PG_USER, group=PG_USER)

        last_err = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {sock_dir} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            started = _run(
                [
                    str(pg_bin / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log_file),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    opts,
                    "start",
                ],
                as_postgres=as_postgres,
                cwd=root,
                timeout=90,
            )
            if started.returncode == 0:
                break
            last_err = f"{started.stdout}\n{started.stderr}\n{_tail(log_file)}"
            if "already in use" not in last_err:
                raise PostgresStartError(f"pg_ctl start failed:\n{last_err}")
        else:
            raise PostgresStartError(f"pg_ctl start failed (port races):\n{last_err}")

        server = PostgresServer(
            url=_sqlalchemy_url(port, "herald"),
            port=port,
            data_dir=data_dir,
            _root=root,
            _bin=pg_bin,
            _as_postgres=as_postgres,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    atexit.register(server.stop)  # safety net if the caller never stops it
    try:
        _wait_connectable(server)
        server.create_database("herald")
    except BaseException:
        server.stop()
        raise
    return server


def _wait_connectable(server: PostgresServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
