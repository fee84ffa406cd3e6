"""Self-tests for the real-server harnesses (PostgreSQL, Prometheus)."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import ClientSession, web
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.waiting import eventually

from .postgres import PostgresServer
from .prometheus import start_prometheus

# Registers postgres_server / postgres_url / prometheus_bin as a plugin unless tests/conftest.py
# already imported them under this name.  If conftest imported them under another module name,
# its (more specific) copies take precedence, so no server is started twice either way.
_FIXTURES = f"{__package__}.fixtures"
if _FIXTURES not in sys.modules:
    pytest_plugins = [_FIXTURES]

# ---------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_answers_select_1(postgres_server: PostgresServer) -> None:
    assert postgres_server.url == (
        f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/herald"
    )
    engine = create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
            assert conn.execute(text("select current_database()")).scalar_one() == "herald"
    finally:
        engine.dispose()


@pytest.mark.postgres
async def test_postgres_url_works_with_async_engine(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_postgres_databases_are_isolated(postgres_server: PostgresServer) -> None:
    url_a = postgres_server.create_database("iso_a")
    url_b = postgres_server.create_database("iso_b")
    try:
        assert url_a.endswith("/iso_a") and url_b.endswith("/iso_b")
        with psycopg.connect(postgres_server.conninfo("iso_a"), autocommit=True) as a:
            a.execute("create table releases (id int primary key)")
            a.execute("insert into releases values (1)")
        with psycopg.connect(postgres_server.conninfo("iso_b"), autocommit=True) as b:
            row = b.execute("select to_regclass('public.releases')").fetchone()
            assert row == (None,)
            b.execute("create table releases (id int primary key)")  # no clash with iso_a
            assert b.execute("select count(*) from releases").fetchone() == (0,)
    finally:
        postgres_server.drop_database("iso_a")
        postgres_server.drop_database("iso_b")


@pytest.mark.postgres
def test_postgres_url_fixture_gives_fresh_database(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text("select count(*) from pg_tables where schemaname = 'public'")
            ).scalar_one()
            assert tables == 0
            assert conn.execute(text("select current_database()")).scalar_one().startswith("t_")
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- skip rule


def test_require_or_skip_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    from .fixtures import require_or_skip  # lazy: the module is loaded as a plugin

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no widgets"):
        require_or_skip("no widgets")


def test_require_or_skip_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from .fixtures import require_or_skip  # lazy: the module is loaded as a plugin

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no widgets"):
        require_or_skip("no widgets")


# ---------------------------------------------------------------------------- Prometheus

T0 = 1_700_000_000
STEP_S = 15
STEPS = 80  # 20 minutes
PHASE_SWITCH = 40  # steps 1..40: 1 % errors; steps 41..80: 20 % errors


def _backfill_text() -> str:
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    for code, early, late in (("200", 99, 80), ("500", 1, 20)):
        value = 0
        for i in range(STEPS + 1):
            if i > 0:
                value += early if i <= PHASE_SWITCH else late
            lines.append(f'http_requests_total{{code="{code}"}} {value} {T0 + i * STEP_S}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


ERROR_RATIO = 'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))'


def _query(base_url: str, query: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": query}
    if at is not None:
        params["time"] = str(at)
    url = f"{base_url}/api/v1/query?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.mark.slow
def test_prometheus_backfill_gives_deterministic_ratio(
    prometheus_bin: tuple[Path, Path], tmp_path: Path
) -> None:
    prom = start_prometheus(tmp_path, openmetrics=_backfill_text())
    try:
        assert prom.url == f"http://127.0.0.1:{prom.port}"
        # Window [T0+180, T0+480] lies wholly in the 1 % phase.
        early = _query(prom.url, ERROR_RATIO, at=T0 + 480)
        assert len(early) == 1
        assert float(early[0]["value"][1]) == pytest.approx(0.01, rel=1e-9)
        # Window [T0+900, T0+1200] lies wholly in the 20 % phase.
        late = _query(prom.url, ERROR_RATIO, at=T0 + STEPS * STEP_S)
        assert float(late[0]["value"][1]) == pytest.approx(0.20, rel=1e-9)
        # Long after the data ends there is nothing: an empty vector, not 0.
        assert _query(prom.url, ERROR_RATIO, at=T0 + 86_400) == []
    finally:
        prom.stop()
    assert not prom.data_dir.exists()


@pytest.mark.slow
async def test_prometheus_scrapes_a_loopback_target(
    prometheus_bin: tuple[Path, Path], tmp_path: Path
) -> None:
    hits = 0

    async def metrics(_: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(
            text="# TYPE herald_probe_total counter\nherald_probe_total 42\n",
            content_type="text/plain",
            charset="utf-8",
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    prom = await asyncio.to_thread(start_prometheus, tmp_path, scrape_targets=[f"127.0.0.1:{port}"])
    try:
        found: list[dict[str, Any]] = []

        async def scraped() -> bool:
            url = f"{prom.url}/api/v1/query"
            async with http.get(url, params={"query": "herald_probe_total"}) as resp:
                found[:] = (await resp.json())["data"]["result"]
            return bool(found)

        async with ClientSession() as http:
            try:
                await eventually(scraped, timeout=10, interval=0.2)
            except AssertionError as error:
                raise AssertionError(f"target never scraped; log:\n{prom.log_tail()}") from error
        assert found[0]["metric"]["job"] == "herald-test"
        assert found[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        assert found[0]["value"][1] == "42"
        assert hits >= 1
    finally:
        await asyncio.to_thread(prom.stop)
        await runner.cleanup()
