"""A real Prometheus scrapes Herald's `/metrics`; the README's PromQL gives the seed figures,
and every query of the Grafana dashboard parses."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.examples import example_manifest
from bot.observability import METRICS
from tests.conftest import Herald
from tests.harness.prometheus import PrometheusServer, start_prometheus
from tests.waiting import eventually

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DASHBOARD = ROOT / "manifests" / "grafana" / "herald-dora.json"
WHERE = {"service": "webapp", "env": "prod"}


def readme_query(title: str) -> str:
    """The first ```promql block after the line that starts with `title`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{title}")
    match = re.compile(r"```promql\n(.*?)```", re.S).search(text, start)
    assert match is not None, title
    return match.group(1).strip()


async def query(session: aiohttp.ClientSession, prometheus: PrometheusServer, expr: str) -> Any:
    url = f"{prometheus.url}/api/v1/query"
    async with session.get(url, params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]


async def scalar(session: aiohttp.ClientSession, prometheus: PrometheusServer, expr: str) -> float:
    data = await query(session, prometheus, expr)
    assert len(data["result"]) == 1, (expr, data)
    return float(data["result"][0]["value"][1])


@pytest.fixture
async def prometheus(
    prometheus_bin: tuple[Path, Path], tmp_path: Path, herald: Herald
) -> AsyncIterator[PrometheusServer]:
    """Prometheus scraping the running Herald every second (store snapshot not cached)."""
    herald.runner.app[METRICS].snapshot_ttl_seconds = 0
    port = herald.runner.addresses[0][1]
    server = await asyncio.to_thread(
        start_prometheus, tmp_path, scrape_targets=[f"127.0.0.1:{port}"], scrape_interval="1s"
    )
    yield server
    await asyncio.to_thread(server.stop)


async def seen(herald: Herald, prometheus: PrometheusServer, expected: dict[str, float]) -> bool:
    """Prometheus's latest `release_completed_total` for webapp/prod, by result, is `expected`.

    Prometheus applies a new target after up to 5 s, then scrapes it every second."""
    data = await query(herald.session, prometheus, 'release_completed_total{service="webapp"}')
    found = {s["metric"]["result"]: float(s["value"][1]) for s in data["result"]}
    return found == expected


async def test_readme_seed_figures_over_a_real_scrape(
    herald: Herald, prometheus: PrometheusServer
) -> None:
    now = datetime.now(UTC)
    ids = [f"rel-{n}" for n in range(8)]
    for n, rid in enumerate(ids):
        manifest = {**example_manifest(), **WHERE, "id": rid, "version": f"1.{n}.0"}
        assert (await herald.post_manifest(manifest))[0] == 201
    zero = {"success": 0.0, "failure": 0.0, "rolled_back": 0.0}
    await eventually(lambda: seen(herald, prometheus, zero), timeout=45, interval=0.2)  # born at 0

    for n, rid in enumerate(ids):
        lead = 600 if n % 2 else 3000  # four of each: the median sits on a bucket boundary
        assert (await herald.post_event(rid, event="release.started"))[0] == 201
        status, _ = await herald.post_event(rid, event="release.deployed", lead_time_seconds=lead)
        assert status == 201
    failed_at = now - timedelta(hours=1)

    def at(seconds: float) -> str:
        return (failed_at + timedelta(seconds=seconds)).isoformat()

    # rel-0 fails, is rolled back and recovers in 600 s; rel-1 is fixed forward in 1200 s.
    for rid, event, seconds in (
        ("rel-0", "release.failed", 0),
        ("rel-0", "release.rolled_back", 60),
        ("rel-0", "release.recovered", 600),
        ("rel-1", "release.failed", 0),
        ("rel-1", "release.recovered", 1200),
    ):
        assert (await herald.post_event(rid, event=event, at=at(seconds)))[0] == 201
    final = {"success": 8.0, "failure": 2.0, "rolled_back": 1.0}
    await eventually(lambda: seen(herald, prometheus, final), timeout=45, interval=0.2)
    # /metrics serves a snapshot a moment old: one taken before rel-1's recovery also shows
    # two failures, so wait until Prometheus has both recoveries too
    await eventually(lambda: restores_seen(herald, prometheus, 2), timeout=45, interval=0.2)

    session = herald.session
    cfr = readme_query("**Change failure rate, 30 days**")
    assert await scalar(session, prometheus, cfr) == 0.25
    lead_p50 = readme_query("**Lead time p50, 7 days**")
    # rank 4 of 8 lands exactly on the cumulative count of the 600 s bucket, so float noise in
    # increase() decides between that bucket's bound and the next one's: either is right
    assert 600 <= await scalar(session, prometheus, lead_p50) <= 900
    mttr = readme_query("**MTTR (time to restore), 30 days**")
    assert await scalar(session, prometheus, mttr) == pytest.approx(900)  # (600 + 1200) / 2

    panel = next(p for p in _panels() if p["title"] == "Change failure rate (30d)")
    assert await scalar(session, prometheus, _concrete(panel["targets"][0]["expr"])) == 0.25


async def restores_seen(herald: Herald, prometheus: PrometheusServer, count: int) -> bool:
    """Prometheus's latest count of webapp/prod's recoveries is `count`."""
    expr = 'release_time_to_recover_seconds_count{service="webapp"}'
    data = await query(herald.session, prometheus, expr)
    return [float(s["value"][1]) for s in data["result"]] == [count]


def _panels() -> Iterator[dict[str, Any]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    yield from walk(json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"])


def _concrete(expr: str) -> str:
    """Grafana's variables as Grafana would fill them for "All"."""
    for variable, value in (("$service", ".*"), ("$env", ".*"), ("$__rate_interval", "1m")):
        expr = expr.replace(variable, value)
    return expr


async def test_every_dashboard_query_parses_in_prometheus(
    prometheus_bin: tuple[Path, Path], tmp_path: Path
) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 36
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"service", "env"} <= variables
    panels = list(_panels())
    assert "Release verdict" in {p["title"] for p in panels}
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    markers = [a for a in dashboard["annotations"]["list"] if "expr" in a]
    assert markers, "release markers"
    exprs += [a["expr"] for a in markers]
    assert len(exprs) > 15

    server = await asyncio.to_thread(start_prometheus, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            for expr in exprs:
                concrete = _concrete(expr)
                assert "$" not in concrete, expr
                await query(session, server, concrete)  # asserts status success, not bad_data
    finally:
        await asyncio.to_thread(server.stop)
