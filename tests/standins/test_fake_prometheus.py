"""The fake Prometheus over real HTTP, through Herald's own client, metrics source and
verdict: healthy is GREEN, a spike is RED, latency and outages are honoured, and unknown
queries are refused as Prometheus refuses them. The last test checks the fake against a real
Prometheus loaded with the same data."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.domain.checkup.metrics import CheckupInputs, MetricsUnavailable, ServiceQueries, render
from bot.domain.checkup.verdict import Color, Verdict, evaluate
from bot.integrations.prometheus import (
    PrometheusClient,
    PrometheusMetricsSource,
    PrometheusQueryError,
)
from standins.prometheus import FakePrometheus
from standins.prometheus.engine import _quantile
from tests.harness.prometheus import start_prometheus
from tests.harness.release_metrics import HEALTHY, RELEASE, SPIKED, openmetrics

T15 = timedelta(minutes=15)
QUERIES = ServiceQueries()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def prom() -> AsyncIterator[FakePrometheus]:
    async with FakePrometheus() as fake:
        fake.set_profile(SPIKED, "spike", release_at=RELEASE)
        yield fake


def client(session: aiohttp.ClientSession, url: str) -> PrometheusClient:
    return PrometheusClient(session=session, base_url=url, retry_delay_seconds=0.01)


async def collect(
    session: aiohttp.ClientSession, url: str, service: str, checkpoint: timedelta = T15
) -> CheckupInputs:
    source = PrometheusMetricsSource(client(session, url))
    return await source.collect(
        queries=QUERIES, service=service, env="prod", release_end=RELEASE, checkpoint=checkpoint
    )


async def judge(session: aiohttp.ClientSession, url: str, service: str) -> Verdict:
    return evaluate(await collect(session, url, service), checkpoint=T15)


async def test_a_healthy_service_is_green(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    verdict = await judge(session, prom.url, "checkout")
    assert verdict.color is Color.GREEN, verdict.findings
    assert not verdict.low_confidence
    assert prom.bad_queries == 0
    # every template of the default ServiceQueries was recognised
    assert set(prom.kinds) == {
        "requests",
        "errors",
        "p95",
        "p99",
        "saturation",
        "health",
        "restarts",
    }
    assert prom.queries_served == prom.instant_queries + prom.range_queries == 30


async def test_an_error_spike_after_the_release_is_red_with_r1(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    inputs = await collect(session, prom.url, SPIKED)
    assert (inputs.post.requests, inputs.post.errors) == (5200, 416)  # 8 % after R
    assert inputs.baseline.errors is not None and inputs.baseline.errors < 15  # 0.2 % before
    assert inputs.sustain.errors_points == (32.0,) * 11  # increase[1m]: 8 of 100 every 15 s
    verdict = evaluate(inputs, checkpoint=T15)
    assert verdict.color is Color.RED
    assert {"R1", "R2"} <= set(verdict.fired_rules())


async def test_a_spike_only_starts_at_its_release_time(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    prom.set_profile("later", "spike", release_at=RELEASE + timedelta(hours=1))
    assert (await judge(session, prom.url, "later")).color is Color.GREEN
    prom.set_profile(SPIKED, "healthy")
    assert prom.profile(SPIKED) == "healthy"
    assert (await judge(session, prom.url, SPIKED)).color is Color.GREEN


async def test_latency_is_honoured(prom: FakePrometheus, session: aiohttp.ClientSession) -> None:
    prom.latency_seconds = 0.2
    expr = render(QUERIES.requests, service="checkout", env="prod", window="5m")
    started = time.monotonic()
    samples = await client(session, prom.url).query(expr, at=RELEASE)
    assert time.monotonic() - started >= 0.2
    assert samples == [({}, 2000.0)]


async def test_down_makes_the_source_raise_metrics_unavailable(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    prom.down = True
    with pytest.raises(MetricsUnavailable, match="Could not reach Prometheus"):
        await collect(session, prom.url, "checkout")
    assert prom.refused >= 3 and prom.queries_served == 0  # a first try and 2 retries
    prom.down = False
    assert (await judge(session, prom.url, "checkout")).color is Color.GREEN


async def test_unknown_queries_get_prometheus_bad_data(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    for query, error in (
        (
            'label_replace(up{service="x"}, "a", "b", "c", "d")',
            'unknown function with name "label_replace"',
        ),
        ('sum(increase(http_requests_total{service="x"[5m]))', "1:45: parse error: unexpected"),
        ('rate(up{service="x"})', "expected type range vector"),
        ("", "no expression found in input"),
    ):
        async with session.post(prom.url + "/api/v1/query", data={"query": query}) as resp:
            assert resp.status == 400
            body = await resp.json()
        assert body["status"] == "error" and body["errorType"] == "bad_data"
        assert body["error"].startswith('invalid parameter "query": ')
        assert error in body["error"]
    with pytest.raises(PrometheusQueryError, match=r"bad_data: .* \(HTTP 400\)"):
        await client(session, prom.url).query("topk(3, up)", at=RELEASE)
    assert prom.bad_queries == 5 and prom.queries_served == 0


async def test_range_parameters_are_checked_like_prometheus(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    for form, error in (
        ({"start": "10", "end": "0", "step": "1"}, "end timestamp must not be before start"),
        ({"start": "0", "end": "100000", "step": "1"}, "exceeded maximum resolution"),
        ({"start": "0", "end": "10", "step": "0"}, "zero or negative query resolution"),
        ({"start": "x", "end": "10", "step": "1"}, 'cannot parse "x" to a valid timestamp'),
    ):
        data = {"query": 'up{service="x"}', **form}
        async with session.post(prom.url + "/api/v1/query_range", data=data) as resp:
            assert resp.status == 400
            assert error in (await resp.json())["error"]


async def test_get_and_the_wire_format(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    p95 = render(QUERIES.p95 or "", service="checkout", env="prod")
    params = {"query": p95, "start": "1700003700", "end": "1700003730", "step": "15s"}
    async with session.get(prom.url + "/api/v1/query_range", params=params) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        body = await resp.json()
    assert body == {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {},
                    "values": [[1700003700 + 15 * i, "0.4062499999999999"] for i in range(3)],
                }
            ],
        },
    }
    params = {"query": 'sum by (code) (increase(http_requests_total{service="checkout"}[75s]))'}
    async with session.get(
        prom.url + "/api/v1/query", params={**params, "time": "1700003700"}
    ) as resp:
        result = (await resp.json())["data"]["result"]
    assert result == [
        {"metric": {"code": "200"}, "value": [1700003700, "499"]},
        {"metric": {"code": "500"}, "value": [1700003700, "1"]},
    ]
    async with session.get(prom.url + "/api/v1/query", params={"query": "1/0"}) as resp:
        assert (await resp.json())["data"]["result"][1] == "+Inf"


async def test_a_canary_splits_the_traffic_by_pod_template_hash(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    prom.set_profile("webapp", "spike", release_at=RELEASE, canary=("5c9a1e", "6b8f7d"))
    by_hash = (
        'sum by (rollouts_pod_template_hash, code) (increase(http_requests_total{service="webapp"'
        ',env="prod"}[5m]))'
    )
    found = await client(session, prom.url).query(by_hash, at=RELEASE + timedelta(minutes=5))
    assert sorted(
        (labels["rollouts_pod_template_hash"], labels["code"], v) for labels, v in found
    ) == [
        ("5c9a1e", "200", 1496.0),  # 75 a step, 4 of them 5xx
        ("5c9a1e", "500", 4.0),
        ("6b8f7d", "200", 460.0),  # 25 a step, 2 of them 5xx: 8 %
        ("6b8f7d", "500", 40.0),
    ]
    before = await client(session, prom.url).query(by_hash, at=RELEASE)
    assert {(labels["rollouts_pod_template_hash"], v) for labels, v in before if v} == {
        ("5c9a1e", 1996.0),
        ("5c9a1e", 4.0),
    }
    p95 = render(QUERIES.p95 or "", service="webapp", env="prod")
    at = RELEASE + timedelta(minutes=5)
    [(_, quantile)] = await client(session, prom.url).query(p95, at=at)
    assert quantile == pytest.approx(0.40625)  # the canary's buckets keep the same shares
    ready = 'min(kube_pod_status_ready{service="webapp",env="prod",condition="true"})'
    assert await client(session, prom.url).query(ready, at=at) == [({}, 1.0)]
    assert prom.kinds["ready"] == 1
    with pytest.raises(ValueError, match="a canary needs release_at"):
        prom.set_profile("webapp", canary=("a", "b"))


@pytest.mark.slow
async def test_the_fake_agrees_with_a_real_prometheus_on_the_same_data(
    prometheus_bin: tuple[Path, Path],
    tmp_path: Path,
    prom: FakePrometheus,
    session: aiohttp.ClientSession,
) -> None:
    real = start_prometheus(tmp_path, openmetrics=openmetrics())
    try:
        for service in (HEALTHY, SPIKED):
            for checkpoint in (T15, timedelta(hours=1)):
                ours = await collect(session, prom.url, service, checkpoint)
                theirs = await collect(session, real.url, service, checkpoint)
                # B7 lies outside the backfilled data; everything else is the same
                for mine, other in (
                    (ours.post, theirs.post),
                    (ours.baseline, theirs.baseline),
                    (ours.sustain, theirs.sustain),
                    *((ours.burn[k], theirs.burn[k]) for k in theirs.burn),
                ):
                    assert same(mine, other), (service, checkpoint, mine, other)
                colors = (evaluate(x, checkpoint=checkpoint).color for x in (ours, theirs))
                assert len(set(colors)) == 1
    finally:
        real.stop()


def same(a: object, b: object) -> bool:
    """Equal dataclasses, floats compared to 1e-9 (Prometheus's sums are not exact)."""

    def close(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9) or (math.isnan(x) and math.isnan(y))
        if isinstance(x, tuple) and isinstance(y, tuple):
            return len(x) == len(y) and all(map(close, x, y))
        return x == y

    return all(close(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))  # type: ignore[arg-type]


def test_quantiles_interpolate_like_prometheus() -> None:
    bounds, counts = [0.1, 0.25, 0.5, 1.0, math.inf], [50.0, 90.0, 98.0, 100.0, 100.0]
    assert _quantile(0.95, bounds, counts) == pytest.approx(0.40625)
    assert _quantile(0.99, bounds, counts) == pytest.approx(0.75)
    assert _quantile(1.0, bounds, [0.0, 0.0, 0.0, 0.0, 1.0]) == 1.0  # in +Inf: the last bound
    assert math.isnan(_quantile(0.5, bounds, [0.0] * 5))
