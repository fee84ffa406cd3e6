"""Fixtures only: settings built explicitly, the Slack stand-in, Herald over real HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_app
from bot.settings import Settings
from standins.slack import FakeSlack
from tests.harness.fixtures import (  # noqa: F401
    alertmanager,
    alertmanager_bin,
    postgres_server,
    postgres_url,
    prometheus_bin,
    webhook_receiver,
)
from tests.harness.release_metrics import prometheus  # noqa: F401  (a Prometheus with that data)

INGEST_TOKEN = "test-ingest-token"
SIGNING_SECRET = "test-signing-secret"
FEED, OPS = "CFEED", "COPS"
_HERALD_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "ARGOCD_URL",
    "ARGOCD_TOKEN",
    "PROMETHEUS_URL",
    "PAGERDUTY_ROUTING_KEY",
    "PAGERDUTY_EVENTS_URL",
    "PAGERDUTY_API_TOKEN",
    "PAGERDUTY_API_URL",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real token or setting leaks into a test from the developer's shell."""
    for name in list(os.environ):
        if name in _HERALD_ENV or name.startswith("HERALD_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=(FEED, OPS)) as fake:
        yield fake


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'herald.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'herald.db'}"


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(slack: FakeSlack, sqlite_url: str) -> SettingsFactory:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "feed_channel": FEED,
            "ops_channel": OPS,
            "database_url": sqlite_url,
            "ingest_token": INGEST_TOKEN,
            "delivery_poll_seconds": 0.05,
        }
        values.update(overrides)
        return Settings(**values)

    return build


class Herald:
    """Herald's HTTP app on a real loopback port, with a client speaking to it."""

    def __init__(self, runner: web.AppRunner, session: aiohttp.ClientSession) -> None:
        self.runner = runner
        self.session = session
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        token: str | None = INGEST_TOKEN,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        all_headers = {"Authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        async with self.session.request(
            method, self.url + path, json=json, data=data, headers=all_headers
        ) as response:
            body = await response.json(content_type=None)
            return response.status, body

    async def post_manifest(self, manifest: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", "/api/v1/releases", json=manifest)

    async def post_event(self, release_id: str, **body: Any) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", f"/api/v1/releases/{release_id}/events", json=body)


async def start_herald(settings: Settings, **kwargs: Any) -> web.AppRunner:
    runner = web.AppRunner(build_app(settings, **kwargs), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    runner = await start_herald(make_settings())
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()
