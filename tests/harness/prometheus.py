"""Throwaway Prometheus server on loopback for tests.

Optionally backfills OpenMetrics text into TSDB blocks with ``promtool`` first, so queries at
a fixed ``time=`` give deterministic answers; optionally scrapes ``host:port`` targets.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["PrometheusServer", "PrometheusStartError", "find_prometheus", "start_prometheus"]

READY_TIMEOUT_S = 20.0
_START_ATTEMPTS = 3


class PrometheusStartError(RuntimeError):
    """The test Prometheus server could not be started."""


def find_prometheus() -> tuple[Path, Path] | None:
    """``(prometheus, promtool)`` binaries from ``PATH`` (or ``/usr/bin``), else ``None``."""
    found: list[Path] = []
    for name in ("prometheus", "promtool"):
        path = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/local/bin")
        if path is None:
            return None
        found.append(Path(path))
    return found[0], found[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PrometheusServer:
    url: str
    port: int
    data_dir: Path = field(repr=False)
    _root: Path = field(repr=False)
    _proc: subprocess.Popen[bytes] = field(repr=False)
    _log: IO[bytes] = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    def log_tail(self, n: int = 30) -> str:
        return _tail(self._root / "prometheus.log", n)

    def stop(self) -> None:
        """Terminate the server and remove its directory.  Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._terminate()
        shutil.rmtree(self._root, ignore_errors=True)

    def _terminate(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._log.close()


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _config(scrape_targets: Sequence[str], scrape_interval: str) -> str:
    cfg: dict[str, object] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [],
    }
    if scrape_targets:
        cfg["scrape_configs"] = [
            {
                "job_name": "herald-test",
                "metrics_path": "/metrics",
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "static_configs": [{"targets": list(scrape_targets)}],
            }
        ]
    return json.dumps(cfg, indent=2)  # JSON is valid YAML


def _backfill(promtool: Path, openmetrics: str, root: Path, data_dir: Path) -> None:
    if not openmetrics.rstrip().endswith("# EOF"):
        raise ValueError("OpenMetrics text must end with '# EOF'")
    src = root / "backfill.om"
    src.write_text(openmetrics if openmetrics.endswith("\n") else openmetrics + "\n")
    res = subprocess.run(
        [str(promtool), "tsdb", "create-blocks-from", "openmetrics", str(src), str(data_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if res.returncode != 0:
        raise PrometheusStartError(f"promtool backfill failed:\n{res.stdout}\n{res.stderr}")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def start_prometheus(
    base_dir: Path,
    *,
    openmetrics: str | None = None,
    scrape_targets: Sequence[str] = (),
    scrape_interval: str = "1s",
) -> PrometheusServer:
    """Start Prometheus in a fresh directory under ``base_dir`` and wait until ready."""
    bins = find_prometheus()
    if bins is None:
        raise PrometheusStartError("prometheus/promtool binaries not found")
    prometheus, promtool = bins
    if isinstance(scrape_targets, str):
        raise TypeError("scrape_targets must be a sequence of 'host:port' strings")

    base_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="herald-prom-", dir=base_dir))
    data_dir = root / "data"
    data_dir.mkdir()
    config = root / "prometheus.yml"
    config.write_text(_config(scrape_targets, scrape_interval))
    server: PrometheusServer | None = None
    ok = False
    try:
        if openmetrics is not None:
            _backfill(promtool, openmetrics, root, data_dir)
        last_err = ""
        for _ in range(_START_ATTEMPTS):
            server = _launch(prometheus, root, data_dir, config)
            if _wait_ready(server):
                ok = True
                atexit.register(server.stop)  # safety net if the caller never stops it
                return server
            last_err = server.log_tail()
            server._terminate()
            if "address already in use" not in last_err:
                break
        raise PrometheusStartError(f"prometheus did not become ready:\n{last_err}")
    finally:
        if not ok:
            if server is not None:
                server._terminate()
            shutil.rmtree(root, ignore_errors=True)


def _launch(prometheus: Path, root: Path, data_dir: Path, config: Path) -> PrometheusServer:
    port = _free_port()
    log = (root / "prometheus.log").open("wb")
    try:
        proc = subprocess.Popen(
            [
                str(prometheus),
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    except BaseException:
        log.close()
        raise
    return PrometheusServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        data_dir=data_dir,
        _root=root,
        _proc=proc,
        _log=log,
    )


def _wait_ready(server: PrometheusServer, timeout: float = READY_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server._proc.poll() is not None:
            return False
        if _ready(server.url):
            return True
        time.sleep(0.05)
    return False
