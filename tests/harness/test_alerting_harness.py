"""Self-tests for the real alerting chain: Alertmanager to a webhook, and a synthetic
service's spike through Prometheus and Alertmanager (tests/harness/alerting.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.api.hooks.alertmanager import AlertmanagerWebhook
from tests.waiting import eventually

from .alerting import SPIKE_ALERT, run_chain
from .alertmanager import RECEIVER, AlertmanagerServer, start_alertmanager
from .prometheus import manifest_rule_groups, start_prometheus
from .synthetic_service import SyntheticService
from .webhook_receiver import WebhookReceiver

GUARDRAILS = Path(__file__).resolve().parents[2] / "manifests/prometheus/release-guardrails.yaml"
LABELS = {"service": "webapp", "env": "prod"}


def report(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], name: str, seconds: float
) -> None:
    """Show a measured figure in the test run's output (and in a JUnit report's properties)."""
    request.node.user_properties.append((name, round(seconds, 3)))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line(f"\n{request.node.name}: {name} = {seconds:.2f} s")


def _now() -> str:
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------------- synthetic service


def test_synthetic_service_books_traffic_under_the_ratio_it_had() -> None:
    now = [0.0]
    svc = SyntheticService(requests_per_second=100, error_ratio=0.01, clock=lambda: now[0])
    now[0] = 10.0
    svc.set_error_ratio(0.5)  # 1000 requests at 1 %
    now[0] = 12.0
    svc.set_latency(0.3)  # 200 requests at 50 %, 50 ms
    now[0] = 13.0
    svc.set_error_ratio(0.0)  # 100 requests at 50 %, 300 ms
    lines = svc.traffic.exposition("webapp", "prod").splitlines()
    samples = dict(line.rsplit(" ", 1) for line in lines if not line.startswith("#"))
    labels = 'service="webapp",env="prod"'
    assert samples[f'http_requests_total{{{labels},code="500"}}'] == "160"
    assert samples[f'http_requests_total{{{labels},code="200"}}'] == "1140"
    bucket = f"http_request_duration_seconds_bucket{{{labels},le="
    assert samples[f'{bucket}"0.05"}}'] == "1200"
    assert samples[f'{bucket}"0.25"}}'] == "1200"
    assert samples[f'{bucket}"0.5"}}'] == "1300"
    assert samples[f'{bucket}"+Inf"}}'] == "1300"
    assert samples[f"http_request_duration_seconds_count{{{labels}}}"] == "1300"
    assert float(samples[f"http_request_duration_seconds_sum{{{labels}}}"]) == pytest.approx(90)


def test_synthetic_service_refuses_a_ratio_outside_0_1() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\], not 1\.5"):
        SyntheticService(error_ratio=1.5)


# ---------------------------------------------------------------------------- Alertmanager


def _posted_alert(**extra: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": "HeraldProbe", **LABELS, "severity": "critical"},
        "annotations": {"summary": "probe"},
        "startsAt": _now(),
        "generatorURL": "http://127.0.0.1/graph",
        **extra,
    }


@pytest.mark.slow
async def test_alertmanager_sends_a_posted_alert_to_the_webhook_as_version_4(
    alertmanager: AlertmanagerServer, webhook_receiver: WebhookReceiver
) -> None:
    async with aiohttp.ClientSession() as http:
        posted = _posted_alert()
        async with http.post(f"{alertmanager.url}/api/v2/alerts", json=[posted]) as resp:
            assert resp.status == 200, await resp.text()
        delivery, alert = await webhook_receiver.wait_for_alert(
            "firing", timeout=10, alertname="HeraldProbe"
        )
        body = delivery.body
        assert body["version"] == "4"
        assert body["status"] == "firing"
        assert body["receiver"] == RECEIVER
        assert body["externalURL"] == alertmanager.url
        assert alert["labels"] == posted["labels"]
        assert alert["annotations"] == {"summary": "probe"}
        assert alert["fingerprint"]
        assert AlertmanagerWebhook.model_validate(body).to_alerts()[0].ends_at is None

        ended = {**posted, "endsAt": _now()}
        async with http.post(f"{alertmanager.url}/api/v2/alerts", json=[ended]) as resp:
            assert resp.status == 200, await resp.text()
        delivery, resolved = await webhook_receiver.wait_for_alert(
            "resolved", timeout=10, alertname="HeraldProbe"
        )
    assert delivery.body["groupKey"] == body["groupKey"]
    assert resolved["fingerprint"] == alert["fingerprint"]
    assert AlertmanagerWebhook.model_validate(delivery.body).to_alerts()[0].ends_at is not None


@pytest.mark.slow
async def test_alertmanager_sends_each_alert_to_the_webhook_and_to_every_one_beside_it(
    alertmanager_bin: Path, tmp_path: Path
) -> None:
    async with WebhookReceiver() as first, WebhookReceiver() as beside:
        server = await asyncio.to_thread(
            start_alertmanager,
            tmp_path,
            webhook_url=first.url,
            also_to=[beside.url],
            bearer_token="am-token",
        )
        try:
            async with aiohttp.ClientSession() as http:
                url = f"{server.url}/api/v2/alerts"
                async with http.post(url, json=[_posted_alert()]) as resp:
                    assert resp.status == 200, await resp.text()
            to_first, _ = await first.wait_for_alert("firing", timeout=10, alertname="HeraldProbe")
            to_beside, _ = await beside.wait_for_alert(
                "firing", timeout=10, alertname="HeraldProbe"
            )
        finally:
            await asyncio.to_thread(server.stop)
    assert to_first.body["receiver"] == RECEIVER
    assert to_first.headers["Authorization"] == "Bearer am-token"
    assert to_beside.body["receiver"] != RECEIVER
    assert "Authorization" not in to_beside.headers  # a bare receiver: no token of Herald's
    assert to_beside.alerts[0]["fingerprint"] == to_first.alerts[0]["fingerprint"]


@pytest.mark.slow
def test_alertmanager_stops_and_leaves_nothing_behind(
    alertmanager_bin: Path, tmp_path: Path
) -> None:
    server = start_alertmanager(tmp_path, webhook_url="http://127.0.0.1:9/unused")
    assert server.running() and server.data_dir.is_dir()
    server.stop()
    server.stop()  # idempotent
    assert not server.running()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- Prometheus rules


@pytest.mark.slow
async def test_prometheus_evaluates_the_release_guardrail_rules(
    prometheus_bin: tuple[Path, Path], tmp_path: Path
) -> None:
    groups = manifest_rule_groups(GUARDRAILS)
    prom = await asyncio.to_thread(start_prometheus, tmp_path, rule_groups=groups)
    rules: list[dict[str, Any]] = []

    async def evaluated() -> bool:
        async with http.get(f"{prom.url}/api/v1/rules") as resp:
            body = await resp.json()
        rules[:] = [r for g in body["data"]["groups"] for r in g["rules"]]
        return bool(rules) and all(r["health"] == "ok" for r in rules)

    try:
        async with aiohttp.ClientSession() as http:
            await eventually(evaluated, timeout=10, interval=0.2)
    finally:
        await asyncio.to_thread(prom.stop)
    assert {r["name"] for r in rules} == {"ReleaseErrorRatioHigh", "ReleaseLatencyP95High"}
    assert all(r["labels"] == {"scope": "release", "severity": "critical"} for r in rules)


# ---------------------------------------------------------------------------- the whole chain


@pytest.mark.slow
async def test_a_spike_fires_through_prometheus_and_alertmanager_then_resolves(
    prometheus_bin: tuple[Path, Path],
    alertmanager_bin: Path,
    webhook_receiver: WebhookReceiver,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with (
        run_chain(webhook_url=webhook_receiver.url) as chain,
        aiohttp.ClientSession() as http,
    ):
        await chain.wait_until_scraped(http)
        up = await chain.query(http, 'up{service="webapp",env="prod"}')
        assert [s["value"][1] for s in up] == ["1"]  # what Herald's default health query reads
        await asyncio.sleep(1.5)  # a rule evaluation or two of the 1 % baseline
        assert await chain.query(http, "ALERTS") == []  # 1 % stays under the 5 % threshold
        assert webhook_receiver.deliveries == []

        chain.service.set_error_ratio(0.5)
        flipped = time.monotonic()
        delivery, alert = await webhook_receiver.wait_for_alert(
            "firing", timeout=15, alertname=SPIKE_ALERT
        )
        report(request, capsys, "flip to firing at the receiver", delivery.at - flipped)
        assert LABELS.items() <= alert["labels"].items()
        assert {"scope": "release", "severity": "critical"}.items() <= alert["labels"].items()
        assert alert["generatorURL"].startswith(chain.prometheus.url)
        AlertmanagerWebhook.model_validate(delivery.body)

        chain.service.set_error_ratio(0.01)
        healed = time.monotonic()
        delivery, resolved = await webhook_receiver.wait_for_alert(
            "resolved", timeout=20, alertname=SPIKE_ALERT
        )
        report(request, capsys, "flip back to resolved at the receiver", delivery.at - healed)
        assert resolved["fingerprint"] == alert["fingerprint"]
        assert LABELS.items() <= resolved["labels"].items()
