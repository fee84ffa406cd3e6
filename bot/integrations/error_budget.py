"""The error-budget burn of a service over the last hour, from Prometheus: its `errors` and
`requests` checkup queries over 1h, error ratio ÷ (1 - SLO). For the approval checklist."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from bot.domain.approval.checklist import BurnUnknown
from bot.domain.checkup.metrics import MetricsUnavailable, ServiceQueries, render
from bot.integrations.prometheus_client import PrometheusClient, PrometheusQueryError

WINDOW = "1h"


class PrometheusBurn:
    def __init__(
        self, client: PrometheusClient, *, queries: Callable[[str], ServiceQueries]
    ) -> None:
        self._client = client
        self._queries = queries

    async def burn(self, *, service: str, env: str, slo: float, at: datetime) -> float:
        queries = self._queries(service)
        requests = await self._count(queries.requests, service=service, env=env, at=at)
        if not requests:
            raise BurnUnknown("no traffic in the last hour")
        errors = await self._count(queries.errors, service=service, env=env, at=at) or 0.0
        return errors / requests / (1.0 - slo)

    async def _count(self, template: str, *, service: str, env: str, at: datetime) -> float | None:
        expr = render(template, service=service, env=env, window=WINDOW)
        try:
            samples = await self._client.query(expr, at=at)
        except MetricsUnavailable as exc:
            raise BurnUnknown(exc.message) from exc
        except PrometheusQueryError as exc:
            raise BurnUnknown(f"Prometheus refused the query: {exc}") from exc
        values = [value for _, value in samples if not math.isnan(value)]
        return sum(values) if values else None
