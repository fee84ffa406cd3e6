"""``FakePrometheus``: the PromQL engine served over real HTTP, with counters and failure modes."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from standins.prometheus.engine import PromQLEngine
from standins.prometheus.promql import BadData
from standins.prometheus.syntax import query_kind
from standins.prometheus.wire import parse_step_ms, parse_time_ms
from standins.server import LoopbackServer

__all__ = ["FakePrometheus"]


class FakePrometheus(PromQLEngine, LoopbackServer):
    """``/api/v1/query`` and ``/api/v1/query_range`` on ``http://127.0.0.1:<port>``.

    ``latency_seconds`` delays every answer; ``down`` closes every connection unanswered (the
    client sees a dropped connection, like a crashed server behind a proxy). Both can be
    changed at any time. Counters: ``queries_served`` (answered 200), ``instant_queries``,
    ``range_queries``, ``bad_queries`` (answered 400), ``refused`` (dropped while down),
    ``kinds`` (served queries by template: "requests", "errors", "p95", "p99",
    "saturation", "health", "ready", "restarts", "other"), ``in_flight``, ``peak_in_flight`` and
    ``last_answer_at`` (``time.monotonic()``); ``stats()`` returns them as a dict and
    ``reset_counters()`` zeroes them. ``set_profile`` chooses a service's behaviour.
    """

    def __init__(self, *, latency_seconds: float = 0.0, down: bool = False) -> None:
        self.latency_seconds = latency_seconds
        self.down = down
        super().__init__()
        self.in_flight = 0
        self.reset_counters()

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        for path, handler in (
            ("/api/v1/query", self._query),
            ("/api/v1/query_range", self._query_range),
        ):
            app.router.add_get(path, handler)
            app.router.add_post(path, handler)
        app.router.add_get("/-/ready", self._probe)
        app.router.add_get("/-/healthy", self._probe)
        return app

    # -- counters --------------------------------------------------------------------------

    def reset_counters(self) -> None:
        self.queries_served = 0
        self.instant_queries = 0
        self.range_queries = 0
        self.bad_queries = 0
        self.refused = 0
        self.kinds: Counter[str] = Counter()
        self.peak_in_flight = self.in_flight
        self.last_answer_at: float | None = None

    def stats(self) -> dict[str, Any]:
        """The counters as plain data (e.g. to send from another process)."""
        return {
            "queries_served": self.queries_served,
            "instant_queries": self.instant_queries,
            "range_queries": self.range_queries,
            "bad_queries": self.bad_queries,
            "refused": self.refused,
            "kinds": dict(self.kinds),
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "last_answer_at": self.last_answer_at,
        }

    # -- HTTP --------------------------------------------------------------------------------

    async def _query(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, ranged=False)

    async def _query_range(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, ranged=True)

    async def _answer(self, request: web.Request, *, ranged: bool) -> web.StreamResponse:
        if self.down:
            self.refused += 1
            if request.transport is not None:
                request.transport.close()  # no HTTP response at all
            return web.Response(status=503)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency_seconds > 0:
                await asyncio.sleep(self.latency_seconds)
            params: dict[str, str] = dict(request.query)
            if request.method == "POST":
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            try:
                data, kind = self._evaluate(params, ranged=ranged)
            except BadData as e:
                self.bad_queries += 1
                body = {"status": "error", "errorType": "bad_data", "error": e.message}
                return web.json_response(body, status=400)
            self.queries_served += 1
            if ranged:
                self.range_queries += 1
            else:
                self.instant_queries += 1
            self.kinds[kind] += 1
            return web.Response(
                text=json.dumps({"status": "success", "data": data}, separators=(",", ":")),
                content_type="application/json",
            )
        finally:
            self.in_flight -= 1
            self.last_answer_at = time.monotonic()

    def _evaluate(self, params: Mapping[str, str], *, ranged: bool) -> tuple[dict[str, Any], str]:
        query = params.get("query", "")
        if ranged:
            start = parse_time_ms(params, "start")
            end = parse_time_ms(params, "end")
            step = parse_step_ms(params.get("step"))
            data = self.range(query, start, end, step)
        else:
            data = self.instant(query, parse_time_ms(params, "time", default=time.time()))
        return data, query_kind(self._parse(query))

    @staticmethod
    async def _probe(request: web.Request) -> web.StreamResponse:
        what = "Ready" if request.path.endswith("ready") else "Healthy"
        return web.Response(text=f"Prometheus Server is {what}.\n")
