"""The Prometheus HTTP API client (``/api/v1/query``, ``/api/v1/query_range``).

A thin async client: POSTed form-encoded queries at explicit timestamps, 2 retries on 5xx
and timeouts, answers parsed into plain numbers. A Prometheus that cannot be reached at all
raises ``MetricsUnavailable``; a query Prometheus refuses raises ``PrometheusQueryError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.domain.checkup.metrics import MetricsUnavailable
from bot.errors import IntegrationError
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService

__all__ = ["PrometheusClient", "PrometheusQueryError", "RangeSeries", "Sample"]

Sample = tuple[dict[str, str], float]
RangeSeries = tuple[dict[str, str], list[tuple[float, float]]]


class PrometheusQueryError(Exception):
    """Prometheus answered but refused or failed this one query (bad_data, execution, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PrometheusClient:
    """Instant and range queries against one Prometheus server."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout_seconds: float = 5.0,
        retries: int = 2,
        retry_delay_seconds: float = 0.2,
    ) -> None:
        self._http = HttpService(
            session=session,
            service="Prometheus",
            base_url=base_url,
            timeout_seconds=timeout_seconds,
        )
        self._base = self._http.base_url
        self._retries = retries
        self._delay = retry_delay_seconds

    def __repr__(self) -> str:
        return f"PrometheusClient(base_url={self._base!r})"

    async def query(self, expr: str, *, at: datetime) -> list[Sample]:
        """An instant vector (or scalar, as one label-less sample) at ``at``."""
        data = await self._post("/api/v1/query", {"query": expr, "time": _ts(at)})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return [({}, _value(result[1]))]
        if kind != "vector" or not isinstance(result, list):
            raise PrometheusQueryError(f"expected an instant vector, got {kind}")
        return [(_labels(s), _value(s["value"][1])) for s in result if "value" in s]

    async def query_range(
        self, expr: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[RangeSeries]:
        """A matrix: each series' ``(unix time, value)`` points from ``start`` to ``end``."""
        form = {
            "query": expr,
            "start": _ts(start),
            "end": _ts(end),
            "step": f"{step.total_seconds():g}",
        }
        data = await self._post("/api/v1/query_range", form)
        kind, result = data.get("resultType"), data.get("result")
        if kind != "matrix" or not isinstance(result, list):
            raise PrometheusQueryError(f"expected a range vector, got {kind}")
        return [
            (_labels(s), [(float(t), _value(v)) for t, v in s.get("values") or []]) for s in result
        ]

    async def _post(self, path: str, form: Mapping[str, str]) -> dict[str, Any]:
        failure: Exception = MetricsUnavailable(f"Prometheus at {self._base} did not answer")
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._delay * 2 ** (attempt - 1))
            try:
                status, payload = await self._send(path, form)
            except MetricsUnavailable as e:
                failure = e
                continue
            if status == 200 and isinstance(payload, dict) and payload.get("status") == "success":
                data = payload.get("data")
                return data if isinstance(data, dict) else {}
            failure = self._failure(status, payload)
            if status < 500 and status != 429:
                break
        raise failure

    async def _send(self, path: str, form: Mapping[str, str]) -> tuple[int, Any]:
        try:
            answer = await self._http.request("POST", path, data=dict(form), changes=False)
        except ErrorAnswer as e:
            answer = e.answer
        except IntegrationError as e:
            raise self._unreachable(e) from e
        try:
            return answer.status, json.loads(answer.body) if answer.body else None
        except ValueError:
            return answer.status, None

    def _unreachable(self, error: IntegrationError) -> MetricsUnavailable:
        kind = error.extra.get("error")
        if kind == TIMEOUT:
            seconds = self._http.timeout_seconds
            return MetricsUnavailable(f"Prometheus at {self._base} did not answer in {seconds:g} s")
        return MetricsUnavailable(f"Could not reach Prometheus at {self._base} ({kind})")

    def _failure(self, status: int, payload: Any) -> Exception:
        """A Prometheus error envelope concerns the query; anything else, the server."""
        if isinstance(payload, dict) and payload.get("status") == "error":
            kind, error = payload.get("errorType") or "error", payload.get("error") or ""
            return PrometheusQueryError(f"{kind}: {error}".strip() + f" (HTTP {status})")
        hint = "; is PROMETHEUS_URL the Prometheus server?" if status < 500 else ""
        return MetricsUnavailable(f"Prometheus at {self._base} answered HTTP {status}{hint}")


def _ts(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("query times must be timezone-aware")
    return f"{at.timestamp():.3f}"


def _labels(sample: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (sample.get("metric") or {}).items()}


def _value(raw: Any) -> float:
    """Prometheus sends numbers as strings: "1.5", "NaN", "+Inf", "-Inf"."""
    return float(raw)
