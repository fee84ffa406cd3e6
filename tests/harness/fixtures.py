"""pytest fixtures for real PostgreSQL / Prometheus / Alertmanager servers.

Import into ``tests/conftest.py``::

    from tests.harness.fixtures import (  # noqa: F401
        alertmanager,
        alertmanager_bin,
        postgres_server,
        postgres_url,
        prometheus_bin,
        webhook_receiver,
    )

Missing binaries skip the test locally, but fail it when ``CI=true`` so CI can never go
green by silently skipping the real-server tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from .alertmanager import AlertmanagerServer, find_alertmanager, start_alertmanager
from .postgres import PostgresServer, find_pg_bin, start_postgres
from .prometheus import find_prometheus
from .webhook_receiver import WebhookReceiver

__all__ = [
    "alertmanager",
    "alertmanager_bin",
    "postgres_server",
    "postgres_url",
    "prometheus_bin",
    "require_or_skip",
    "server_tmpdir",
    "webhook_receiver",
]


def require_or_skip(reason: str) -> NoReturn:
    """Skip with ``reason``; under ``CI=true`` fail instead (CI must have the servers)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required here; run scripts/ensure-services)")
    pytest.skip(f"{reason} (run scripts/ensure-services to install)")


def server_tmpdir(prefix: str) -> Path:
    """A fresh 0o755 directory under the system tmp dir that the ``postgres`` user can
    traverse (pytest's ``tmp_path`` is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (database ``herald``)."""
    if find_pg_bin() is None:
        require_or_skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    base = server_tmpdir("herald-pg-")
    try:
        server = start_postgres(base)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database for this test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def prometheus_bin() -> tuple[Path, Path]:
    """``(prometheus, promtool)`` paths; use with ``harness.prometheus.start_prometheus``."""
    found = find_prometheus()
    if found is None:
        require_or_skip("prometheus/promtool binaries not found")
    return found


@pytest.fixture(scope="session")
def alertmanager_bin() -> Path:
    """The Alertmanager binary; use with ``harness.alertmanager.start_alertmanager``."""
    found = find_alertmanager()
    if found is None:
        require_or_skip("alertmanager binary not found")
    return found


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A bare webhook receiver on a free loopback port, recording every POST."""
    async with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def alertmanager(
    alertmanager_bin: Path, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> AsyncIterator[AlertmanagerServer]:
    """A real Alertmanager sending every alert to ``webhook_receiver`` (1s/1s/1h timers)."""
    server = await asyncio.to_thread(start_alertmanager, tmp_path, webhook_url=webhook_receiver.url)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
