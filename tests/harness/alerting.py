"""The real alerting chain on loopback: a synthetic service, a Prometheus scraping it and
evaluating rules every second, and an Alertmanager sending what fires to a webhook (and to
any bare webhooks beside it).

``error_ratio_rules()`` is the fast rule a spike trips: the 5xx ratio over the last few
seconds above a threshold, ``for: 0s``.  The rules in manifests/ judge 5-minute windows and
hold for 5 minutes, too slow for a test.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import eventually

from .alertmanager import AlertmanagerServer, start_alertmanager
from .prometheus import PrometheusServer, RuleGroup, start_prometheus
from .synthetic_service import SyntheticService

__all__ = ["SPIKE_ALERT", "AlertingChain", "error_ratio", "error_ratio_rules", "run_chain"]

SPIKE_ALERT = "SyntheticErrorRatioHigh"


def error_ratio(window: str) -> str:
    """PromQL: each service's and env's 5xx ratio over ``window``."""
    return (
        f'sum by (service, env) (rate(http_requests_total{{code=~"5.."}}[{window}]))'
        f" / sum by (service, env) (rate(http_requests_total[{window}]))"
    )


def error_ratio_rules(*, window: str = "5s", threshold: float = 0.05) -> dict[str, Any]:
    """A rule group whose one alert fires, release-scoped and critical, on a 5xx spike."""
    return {
        "name": "herald-test-spike",
        "rules": [
            {
                "alert": SPIKE_ALERT,
                "expr": f"{error_ratio(window)} > {threshold}",
                "for": "0s",
                "labels": {"scope": "release", "severity": "critical"},
                "annotations": {"summary": "{{ $labels.service }}: 5xx ratio {{ $value }}"},
            }
        ],
    }


@dataclass(frozen=True)
class AlertingChain:
    service: SyntheticService
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer

    async def query(self, http: aiohttp.ClientSession, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        url = f"{self.prometheus.url}/api/v1/query"
        async with http.get(url, params={"query": expr}) as resp:
            body = await resp.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def wait_until_scraped(
        self,
        http: aiohttp.ClientSession,
        *,
        window: str = "5s",
        timeout: float = 15.0,  # noqa: ASYNC109  (a deadline the failure names, not a cancel)
    ) -> None:
        """Until Prometheus can compute the service's error ratio over ``window``.

        Prometheus 2.x hands discovered targets to its scrapers at most every 5 s, so the
        first scrape comes about 5 s after it starts, whatever the scrape interval.
        """

        async def computable() -> bool:
            return bool(await self.query(http, error_ratio(window)))

        try:
            await eventually(computable, timeout=timeout, interval=0.2)
        except AssertionError as error:
            log = self.prometheus.log_tail()
            raise AssertionError(f"{error}; Prometheus log:\n{log}") from None


@asynccontextmanager
async def run_chain(
    *,
    webhook_url: str,
    also_to: Sequence[str] = (),
    service: SyntheticService | None = None,
    rule_groups: Sequence[RuleGroup] = (),
    bearer_token: str | None = None,
) -> AsyncIterator[AlertingChain]:
    """Start a synthetic service (unless a started one is given), Alertmanager (notifying
    ``webhook_url``, with ``bearer_token``, and each of ``also_to``), then Prometheus with
    ``rule_groups`` (``error_ratio_rules()`` when none); stop all on exit.

    The scrape target carries the service's ``service`` and ``env`` labels, so its ``up``
    is what Herald's default health query reads."""
    base = Path(tempfile.mkdtemp(prefix="herald-alerting-"))
    async with AsyncExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        if service is None:
            service = await stack.enter_async_context(SyntheticService())
        am = await asyncio.to_thread(
            start_alertmanager,
            base,
            webhook_url=webhook_url,
            also_to=also_to,
            bearer_token=bearer_token,
        )
        stack.push_async_callback(asyncio.to_thread, am.stop)
        prom = await asyncio.to_thread(
            start_prometheus,
            base,
            scrape_targets=[service.target],
            target_labels={"service": service.service, "env": service.env},
            rule_groups=list(rule_groups) or [error_ratio_rules()],
            alertmanagers=[am.target],
        )
        stack.push_async_callback(asyncio.to_thread, prom.stop)
        yield AlertingChain(service=service, prometheus=prom, alertmanager=am)
