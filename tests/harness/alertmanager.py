"""Throwaway Alertmanager on loopback for tests.

One route sends every alert to one webhook receiver (``send_resolved: true``), and to each of
``also_to`` beside it (child routes with ``continue: true``, so one alert reaches them all), with
group timers short enough for tests.  Clustering is off (``--cluster.listen-address=``), so the
server is ready at once and gossips with nobody.  Debian installs the binary as
``prometheus-alertmanager``; upstream calls it ``alertmanager``.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .daemon import DaemonServer, find_binary, start_daemon

__all__ = [
    "AlertmanagerServer",
    "AlertmanagerStartError",
    "alertmanager_config",
    "find_alertmanager",
    "start_alertmanager",
]

RECEIVER = "herald-test"


class AlertmanagerStartError(RuntimeError):
    """The test Alertmanager could not be started."""


def find_alertmanager() -> Path | None:
    """The Alertmanager binary from ``PATH`` (or ``/usr/bin``), else ``None``."""
    return find_binary("alertmanager", "prometheus-alertmanager")


class AlertmanagerServer(DaemonServer):
    """A running Alertmanager."""

    @property
    def target(self) -> str:
        """``host:port``, as Prometheus' ``alerting.alertmanagers`` wants it."""
        return f"127.0.0.1:{self.port}"


def alertmanager_config(
    webhook_url: str,
    *,
    also_to: Sequence[str] = (),
    bearer_token: str | None = None,
    group_by: Sequence[str] = ("...",),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> dict[str, Any]:
    """A config whose route sends every alert to ``webhook_url`` (with ``bearer_token``) and
    to each bare webhook of ``also_to``.

    ``group_by=("...",)`` makes each alert its own group, so each is notified on its own.
    With ``also_to``, every receiver has a child route without matchers and with ``continue:
    true``: Alertmanager notifies each of them, on the same group timers, for every alert.
    """
    webhook: dict[str, Any] = _webhook(webhook_url)
    if bearer_token is not None:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": bearer_token}}
    receivers = [{"name": RECEIVER, "webhook_configs": [webhook]}]
    receivers += [
        {"name": f"{RECEIVER}-{n}", "webhook_configs": [_webhook(url)]}
        for n, url in enumerate(also_to, start=2)
    ]
    route: dict[str, Any] = {
        "receiver": RECEIVER,
        "group_by": list(group_by),
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
    }
    if also_to:
        route["routes"] = [{"receiver": r["name"], "continue": True} for r in receivers]
    return {"route": route, "receivers": receivers}


def _webhook(url: str) -> dict[str, Any]:
    return {"url": url, "send_resolved": True, "max_alerts": 0}


def start_alertmanager(
    base_dir: Path,
    *,
    webhook_url: str,
    also_to: Sequence[str] = (),
    bearer_token: str | None = None,
    group_by: Sequence[str] = ("...",),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> AlertmanagerServer:
    """Start Alertmanager in a fresh directory under ``base_dir`` and wait until ready."""
    binary = find_alertmanager()
    if binary is None:
        raise AlertmanagerStartError("alertmanager binary not found")
    if isinstance(group_by, str) or isinstance(also_to, str):
        raise TypeError("group_by and also_to must be sequences, not one string")
    base_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="herald-am-", dir=base_dir))
    try:
        config = root / "alertmanager.yml"
        cfg = alertmanager_config(
            webhook_url,
            also_to=also_to,
            bearer_token=bearer_token,
            group_by=group_by,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        )
        config.write_text(json.dumps(cfg, indent=2))  # JSON is valid YAML
        (root / "data").mkdir()
        daemon = start_daemon(
            lambda port: _argv(binary, root=root, config=config, port=port),
            cwd=root,
            log_path=root / "alertmanager.log",
            error=AlertmanagerStartError,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = AlertmanagerServer(
        url=daemon.url, port=daemon.port, data_dir=root / "data", _root=root, _daemon=daemon
    )
    atexit.register(server.stop)  # safety net if the caller never stops it
    return server


def _argv(binary: Path, *, root: Path, config: Path, port: int) -> list[str]:
    return [
        str(binary),
        f"--config.file={config}",
        f"--storage.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
