"""Throwaway Prometheus server on loopback for tests.

Optionally backfills OpenMetrics text into TSDB blocks with ``promtool`` first, so queries at
a fixed ``time=`` give deterministic answers; optionally scrapes ``host:port`` targets,
evaluates rule groups and sends the alerts they fire to Alertmanagers.  Scrapes and rule
evaluations share one interval (1 s unless told).
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .daemon import DaemonServer, find_binary, start_daemon

__all__ = [
    "PrometheusServer",
    "PrometheusStartError",
    "find_prometheus",
    "manifest_rule_groups",
    "start_prometheus",
]

RuleGroup = Mapping[str, Any]


class PrometheusStartError(RuntimeError):
    """The test Prometheus server could not be started."""


def find_prometheus() -> tuple[Path, Path] | None:
    """``(prometheus, promtool)`` binaries from ``PATH`` (or ``/usr/bin``), else ``None``."""
    prometheus, promtool = find_binary("prometheus"), find_binary("promtool")
    if prometheus is None or promtool is None:
        return None
    return prometheus, promtool


def manifest_rule_groups(manifest: Path) -> list[dict[str, Any]]:
    """The rule groups of a ``PrometheusRule`` manifest (its ``spec.groups``), as Prometheus
    reads them from a rule file."""
    doc = yaml.safe_load(manifest.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "PrometheusRule":
        raise ValueError(f"{manifest} is not a PrometheusRule manifest")
    groups: list[dict[str, Any]] = doc["spec"]["groups"]
    return groups


class PrometheusServer(DaemonServer):
    """A running Prometheus."""


def _config(
    *,
    scrape_targets: Sequence[str],
    target_labels: Mapping[str, str],
    scrape_interval: str,
    rule_file: Path | None,
    alertmanagers: Sequence[str],
) -> str:
    cfg: dict[str, object] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [],
    }
    if scrape_targets:
        static: dict[str, object] = {"targets": list(scrape_targets)}
        job: dict[str, object] = {
            "job_name": "herald-test",
            "metrics_path": "/metrics",
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "static_configs": [static],
        }
        if target_labels:
            static["labels"] = dict(target_labels)
            # a label the target exposes too keeps its exposed value (not `exported_<label>`)
            job["honor_labels"] = True
        cfg["scrape_configs"] = [job]
    if rule_file is not None:
        cfg["rule_files"] = [str(rule_file)]
    if alertmanagers:
        cfg["alerting"] = {
            "alertmanagers": [
                {"api_version": "v2", "static_configs": [{"targets": list(alertmanagers)}]}
            ]
        }
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


def _check_hosts(name: str, hosts: Sequence[str]) -> None:
    if isinstance(hosts, str):
        raise TypeError(f"{name} must be a sequence of 'host:port' strings")


def start_prometheus(
    base_dir: Path,
    *,
    openmetrics: str | None = None,
    scrape_targets: Sequence[str] = (),
    target_labels: Mapping[str, str] | None = None,
    scrape_interval: str = "1s",
    rule_groups: Sequence[RuleGroup] = (),
    alertmanagers: Sequence[str] = (),
) -> PrometheusServer:
    """Start Prometheus in a fresh directory under ``base_dir`` and wait until ready.

    ``target_labels`` go on every series scraped from the targets, ``up`` included (so
    ``min(up{service=...,env=...})``, Herald's default health query, finds the target).

    ``rule_groups`` are written to a rule file (they are what a rule file's ``groups:`` holds;
    see ``manifest_rule_groups``); ``alertmanagers`` are ``host:port`` of Alertmanagers
    (API v2) that receive the alerts those rules fire.
    """
    bins = find_prometheus()
    if bins is None:
        raise PrometheusStartError("prometheus/promtool binaries not found")
    prometheus, promtool = bins
    _check_hosts("scrape_targets", scrape_targets)
    _check_hosts("alertmanagers", alertmanagers)

    base_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="herald-prom-", dir=base_dir))
    try:
        server = _start(
            prometheus,
            promtool,
            root=root,
            openmetrics=openmetrics,
            config=_write_config(
                root,
                scrape_targets=scrape_targets,
                target_labels=target_labels or {},
                scrape_interval=scrape_interval,
                rule_groups=rule_groups,
                alertmanagers=alertmanagers,
            ),
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    atexit.register(server.stop)  # safety net if the caller never stops it
    return server


def _write_config(
    root: Path,
    *,
    scrape_targets: Sequence[str],
    target_labels: Mapping[str, str],
    scrape_interval: str,
    rule_groups: Sequence[RuleGroup],
    alertmanagers: Sequence[str],
) -> Path:
    rule_file = None
    if rule_groups:
        rule_file = root / "rules.yml"
        rule_file.write_text(json.dumps({"groups": list(rule_groups)}, indent=2))
    config = root / "prometheus.yml"
    config.write_text(
        _config(
            scrape_targets=scrape_targets,
            target_labels=target_labels,
            scrape_interval=scrape_interval,
            rule_file=rule_file,
            alertmanagers=alertmanagers,
        )
    )
    return config


def _start(
    prometheus: Path, promtool: Path, *, root: Path, openmetrics: str | None, config: Path
) -> PrometheusServer:
    data_dir = root / "data"
    data_dir.mkdir()
    if openmetrics is not None:
        _backfill(promtool, openmetrics, root, data_dir)
    daemon = start_daemon(
        lambda port: [
            str(prometheus),
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--log.level=warn",
        ],
        cwd=root,
        log_path=root / "prometheus.log",
        error=PrometheusStartError,
    )
    return PrometheusServer(
        url=daemon.url, port=daemon.port, data_dir=data_dir, _root=root, _daemon=daemon
    )
