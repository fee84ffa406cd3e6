"""PrometheusClient and PrometheusMetricsSource against a REAL Prometheus with backfilled data
(a healthy release and an error spike, by `service` label), plus a fake server for errors."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.domain.checkup.metrics import (
    CheckupInputs,
    MetricsUnavailable,
    ServiceQueries,
    windows_for,
)
from bot.domain.checkup.verdict import Color, evaluate, unknown_verdict
from bot.integrations.prometheus import (
    PrometheusClient,
    PrometheusMetricsSource,
    PrometheusQueryError,
)
from tests.harness.prometheus import PrometheusServer, start_prometheus
from tests.harness.release_metrics import (
    HEALTHY,
    KPI,
    ORDERS,
    P95,
    PER_STEP,
    RELEASE,
    SPIKE,
    SPIKED,
    STEP,
    T1H,
    T15,
    R,
    count,
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def source(session: aiohttp.ClientSession, url: str) -> PrometheusMetricsSource:
    return PrometheusMetricsSource(PrometheusClient(session=session, base_url=url))


async def collect(
    src: PrometheusMetricsSource,
    service: str,
    checkpoint: timedelta,
    queries: ServiceQueries | None = None,
) -> CheckupInputs:
    return await src.collect(
        queries=queries or ServiceQueries(),
        service=service,
        env="prod",
        release_end=RELEASE,
        checkpoint=checkpoint,
    )


# -- real Prometheus -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [T15, T1H])
async def test_healthy_release_is_green(
    prometheus: PrometheusServer, session: aiohttp.ClientSession, checkpoint: timedelta
) -> None:
    inputs = await collect(source(session, prometheus.url), HEALTHY, checkpoint)
    verdict = evaluate(inputs, checkpoint=checkpoint)
    assert verdict.color is Color.GREEN, verdict.findings
    assert {f.outcome for f in verdict.findings} == {"PASS"}
    assert not verdict.low_confidence
    assert inputs.errors == {}


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [T15, T1H])
async def test_error_spike_is_red_with_r1_and_r2(
    prometheus: PrometheusServer, session: aiohttp.ClientSession, checkpoint: timedelta
) -> None:
    inputs = await collect(source(session, prometheus.url), SPIKED, checkpoint)
    verdict = evaluate(inputs, checkpoint=checkpoint)
    assert verdict.color is Color.RED
    assert verdict.fired_rules() == ("R1", "R2", "R5")
    w = windows_for(RELEASE, checkpoint)
    n_p = int(w.post.duration.total_seconds()) // STEP * PER_STEP  # B has as many
    b0, b1 = int(w.baseline.start.timestamp()), int(w.baseline.end.timestamp())
    r_b = (count(SPIKED, "500", b1) - count(SPIKED, "500", b0)) / n_p
    r1 = next(f for f in verdict.findings if f.rule == "R1")
    assert r1.detail == (
        f"5xx ratio 8.00% vs baseline {r_b:.2%} ({(0.08 - r_b) * 100:+.2f} pp, p<0.001, "
        f"{n_p:,} requests); 8.00% over the last 5 minutes"
    )
    r2 = next(f for f in verdict.findings if f.rule == "R2")
    assert r2.detail == (
        "5xx ratio > 5.00% at all 11 points of the last 5 minutes (lowest 8.00%, 2,000 req)"
    )
    assert verdict.rollback_eligible()
    assert verdict.blast_radius() == "~8.0% of requests failing"
    assert verdict.signals[0].now == "8.00%"


@pytest.mark.slow
async def test_collected_inputs_are_the_generated_numbers(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    inputs = await collect(source(session, prometheus.url), SPIKED, T15)
    w = windows_for(RELEASE, T15)
    p0, p1 = int(w.post.start.timestamp()), int(w.post.end.timestamp())
    b0, b1 = int(w.baseline.start.timestamp()), int(w.baseline.end.timestamp())
    assert (p0, p1, b1) == (R + 120, R + 900, R)

    def delta(code: str, t0: int, t1: int) -> int:
        return count(SPIKED, code, t1) - count(SPIKED, code, t0)

    assert inputs.post.requests == delta("200", p0, p1) + delta("500", p0, p1) == 5200
    assert inputs.post.errors == delta("500", p0, p1) == 52 * SPIKE
    assert inputs.baseline.requests == 5200
    assert inputs.baseline.errors == delta("500", b0, b1) == 11
    assert inputs.post.restarts == 0.0
    assert inputs.sustain.requests == 5 * 4 * PER_STEP
    assert inputs.sustain.errors == 5 * 4 * SPIKE
    assert inputs.sustain.requests_points == (4.0 * PER_STEP,) * 11
    assert inputs.sustain.errors_points == (4.0 * SPIKE,) * 11
    assert inputs.burn["5m"].errors == 5 * 4 * SPIKE
    post_p95 = inputs.post.p95 or ()
    assert len(post_p95) == 53
    assert all(v == pytest.approx(P95, rel=1e-9) for v in post_p95)
    assert inputs.sustain.p95 == pytest.approx((P95,) * 11, rel=1e-9)
    assert inputs.post.saturation == pytest.approx((0.3,) * 53, rel=1e-9)
    assert inputs.post.health == (1.0,) * 53
    assert inputs.sustain.health == (1.0,) * 11
    assert inputs.baseline7.requests is None  # nothing a week earlier ...
    assert inputs.baseline7.p95 == ()  # ... queried, empty
    assert inputs.post.kpi is None  # KPI off by default


@pytest.mark.slow
async def test_kpi_is_compared_with_a_week_earlier(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    queries = ServiceQueries(kpi=KPI)
    inputs = await collect(source(session, prometheus.url), HEALTHY, T15, queries)
    assert inputs.baseline7.kpi_events == 52 * ORDERS
    assert inputs.post.kpi_events == 52 * ORDERS
    assert inputs.post.kpi == (4.0 * ORDERS,) * 53  # orders per minute
    assert inputs.sustain.kpi == (4.0 * ORDERS,) * 11
    verdict = evaluate(inputs, checkpoint=T15)
    assert verdict.color is Color.GREEN
    assert next(s for s in verdict.signals if s.metric == "business KPI").now == "40.0/min"
    polluted = evaluate(replace(inputs, baseline_polluted=True), checkpoint=T15)
    assert polluted.color is Color.YELLOW  # B7 has no requests: critical metrics inconclusive


@pytest.mark.slow
async def test_a_refused_query_is_an_error_finding(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    queries = ServiceQueries(p95="histogram_quantile(0.95, sum(")
    inputs = await collect(source(session, prometheus.url), HEALTHY, T15, queries)
    assert inputs.errors["p95"].startswith("bad_data: ")
    assert inputs.errors["p95"].endswith("(HTTP 400)")
    assert inputs.post.p95 is None
    verdict = evaluate(inputs, checkpoint=T15)
    assert verdict.color is Color.YELLOW
    assert [(f.rule, f.outcome) for f in verdict.findings if f.metric == "p95"] == [
        ("ERROR", "ERROR")
    ]


@pytest.mark.slow
async def test_stopped_prometheus_is_unknown(
    prometheus_bin: tuple[Path, Path], tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    server = await asyncio.to_thread(start_prometheus, tmp_path)
    await asyncio.to_thread(server.stop)
    client = PrometheusClient(session=session, base_url=server.url, retry_delay_seconds=0.01)
    with pytest.raises(MetricsUnavailable) as caught:
        await collect(PrometheusMetricsSource(client), HEALTHY, T15)
    assert caught.value.message.startswith(f"Could not reach Prometheus at {server.url}")
    verdict = unknown_verdict(caught.value.message)
    assert verdict.color is Color.UNKNOWN
    assert not verdict.rollback_eligible()


@pytest.mark.slow
async def test_client_parses_vectors_scalars_and_matrices(
    prometheus: PrometheusServer, session: aiohttp.ClientSession
) -> None:
    client = PrometheusClient(session=session, base_url=prometheus.url + "/")
    at = datetime.fromtimestamp(R + 900, UTC)
    vector = await client.query('up{service="payments"}', at=at)
    assert vector == [({"__name__": "up", "env": "prod", "service": "payments"}, 1.0)]
    assert await client.query("scalar(vector(2)) / 4", at=at) == [({}, 0.5)]
    [(_, nan)] = await client.query("vector(0) / 0", at=at)
    assert math.isnan(nan)
    assert await client.query("vector(1) / 0", at=at) == [({}, math.inf)]
    matrix = await client.query_range(
        'sum(up{env="prod"})', start=at - timedelta(minutes=1), end=at, step=timedelta(seconds=30)
    )
    assert matrix == [({}, [(R + 840.0, 2.0), (R + 870.0, 2.0), (R + 900.0, 2.0)])]
    with pytest.raises(PrometheusQueryError, match="expected an instant vector"):
        await client.query('up{service="payments"}[1m]', at=at)


# -- fake server: retries and error mapping ------------------------------------------------------


class FakePrometheus:
    """Answers /api/v1/query with canned responses, recording each request's form."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, Any]] = []
        self.forms: list[dict[str, str]] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.forms.append({k: str(v) for k, v in (await request.post()).items()})
        await asyncio.sleep(self.delay)
        status, body = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakePrometheus, str]]:
    prom = FakePrometheus()
    app = web.Application()
    app.router.add_post("/api/v1/query", prom.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield prom, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


OK = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"service": "x"}, "value": [R, "+Inf"]},
    {"metric": {}, "value": [R, "NaN"]},
]}}  # fmt: skip
UNAVAILABLE = {"status": "error", "errorType": "unavailable", "error": "too busy"}
BAD = {"status": "error", "errorType": "bad_data", "error": 'parse error at char 5: unclosed "("'}

AT = datetime.fromtimestamp(R, UTC)


def client_for(session: aiohttp.ClientSession, url: str, timeout: float = 2.0) -> PrometheusClient:
    return PrometheusClient(
        session=session, base_url=url, timeout_seconds=timeout, retry_delay_seconds=0.01
    )


async def test_posts_the_form_at_an_explicit_time_and_parses_special_values(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession
) -> None:
    prom, url = fake
    prom.responses = [(200, OK)]
    [(labels, inf), (_, nan)] = await client_for(session, url).query("up", at=AT)
    assert (labels, inf) == ({"service": "x"}, math.inf) and math.isnan(nan)
    assert prom.forms == [{"query": "up", "time": f"{R}.000"}]


async def test_retries_5xx_twice_then_succeeds(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession
) -> None:
    prom, url = fake
    prom.responses = [(503, UNAVAILABLE), (503, UNAVAILABLE), (200, OK)]
    assert len(await client_for(session, url).query("up", at=AT)) == 2
    assert len(prom.forms) == 3


async def test_a_query_error_after_retries_is_per_query(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession
) -> None:
    prom, url = fake
    prom.responses = [(503, UNAVAILABLE)]
    with pytest.raises(PrometheusQueryError, match=r"unavailable: too busy \(HTTP 503\)"):
        await client_for(session, url).query("up", at=AT)
    assert len(prom.forms) == 3


async def test_bad_data_is_not_retried(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession
) -> None:
    prom, url = fake
    prom.responses = [(400, BAD)]
    with pytest.raises(PrometheusQueryError) as caught:
        await client_for(session, url).query("sum(", at=AT)
    assert caught.value.message == 'bad_data: parse error at char 5: unclosed "(" (HTTP 400)'
    assert len(prom.forms) == 1


@pytest.mark.parametrize(
    ("status", "said"),
    [(502, "answered HTTP 502"), (404, "answered HTTP 404; is PROMETHEUS_URL the Prometheus")],
)
async def test_answers_that_are_not_prometheus_mean_unavailable(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession, status: int, said: str
) -> None:
    prom, url = fake
    prom.responses = [(status, "<html>nope</html>")]
    with pytest.raises(MetricsUnavailable, match=said):
        await client_for(session, url).query("up", at=AT)
    assert len(prom.forms) == (3 if status >= 500 else 1)


async def test_timeouts_are_retried_then_unavailable(
    fake: tuple[FakePrometheus, str], session: aiohttp.ClientSession
) -> None:
    prom, url = fake
    prom.responses, prom.delay = [(200, OK)], 0.5
    with pytest.raises(MetricsUnavailable, match=r"did not answer in 0\.1 s"):
        await client_for(session, url, timeout=0.1).query("up", at=AT)
    assert len(prom.forms) == 3


async def test_naive_times_are_refused(session: aiohttp.ClientSession) -> None:
    client = client_for(session, "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="timezone-aware"):
        await client.query("up", at=AT.replace(tzinfo=None))
