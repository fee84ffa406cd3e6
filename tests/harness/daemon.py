"""A server binary run as a child process on a free loopback port until its ``/-/ready``
answers: what the Prometheus and Alertmanager harnesses share.

The port is picked before the process binds it, so another process may take it first; the
launch is then retried on a new port (the log says "address already in use").
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["Daemon", "DaemonServer", "find_binary", "free_port", "start_daemon"]

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
_START_ATTEMPTS = 3


def find_binary(*names: str) -> Path | None:
    """The first of ``names`` on ``PATH`` (or in ``/usr/bin``, ``/usr/local/bin``)."""
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
        if path is not None:
            return Path(path)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Daemon:
    """A running child process serving ``url`` (``http://127.0.0.1:<port>``)."""

    url: str
    port: int
    log_path: Path
    _proc: subprocess.Popen[bytes] = field(repr=False)
    _log: IO[bytes] = field(repr=False)

    def running(self) -> bool:
        return self._proc.poll() is None

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``STOP_TIMEOUT_S``.  Idempotent."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=STOP_TIMEOUT_S)
        self._log.close()


@dataclass
class DaemonServer:
    """A started server: where it answers, and how to stop it and remove its directory."""

    url: str
    port: int
    data_dir: Path = field(repr=False)
    _root: Path = field(repr=False)
    _daemon: Daemon = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def running(self) -> bool:
        return self._daemon.running()

    def log_tail(self, n: int = 30) -> str:
        return self._daemon.log_tail(n)

    def stop(self) -> None:
        """Terminate the server and remove its directory.  Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._daemon.terminate()
        shutil.rmtree(self._root, ignore_errors=True)


def start_daemon(
    argv_for: Callable[[int], Sequence[str]],
    *,
    cwd: Path,
    log_path: Path,
    error: type[RuntimeError],
) -> Daemon:
    """Run ``argv_for(port)`` on a free port until ``/-/ready`` answers 200, or raise ``error``
    with the log's tail (after retrying port races)."""
    last_log = ""
    for _ in range(_START_ATTEMPTS):
        daemon = _launch(argv_for, cwd=cwd, log_path=log_path)
        try:
            ready = _wait_ready(daemon)
        except BaseException:
            daemon.terminate()
            raise
        if ready:
            return daemon
        last_log = daemon.log_tail()
        daemon.terminate()
        if "address already in use" not in last_log:
            break
    raise error(f"{log_path.stem} did not become ready:\n{last_log}")


def _launch(argv_for: Callable[[int], Sequence[str]], *, cwd: Path, log_path: Path) -> Daemon:
    port = free_port()
    log = log_path.open("wb")
    try:
        proc = subprocess.Popen(
            [*argv_for(port)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    except BaseException:
        log.close()
        raise
    return Daemon(
        url=f"http://127.0.0.1:{port}", port=port, log_path=log_path, _proc=proc, _log=log
    )


def _wait_ready(daemon: Daemon, timeout: float = READY_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not daemon.running():
            return False
        if _ready(daemon.url):
            return True
        time.sleep(0.05)
    return False


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False
