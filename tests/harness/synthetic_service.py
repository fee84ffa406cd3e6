"""A synthetic service for Prometheus to scrape: steady traffic whose error ratio and latency
a test changes while it runs.

Nothing is really served.  Each scrape of ``/metrics`` first books the requests of the time
since the last scrape (``requests_per_second`` of them a second, ``error_ratio`` of them 5xx,
each taking ``latency_s``) and then exposes the counters Herald's default queries read:
``http_requests_total{service,env,code}`` and the ``http_request_duration_seconds``
histogram.  A change books the traffic before it under the old values, so ``rate()`` over
any window sees exactly when it happened.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from standins.server import LoopbackServer

__all__ = ["BUCKETS", "SyntheticService", "Traffic"]

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)  # seconds, `le` of each bucket


@dataclass
class Traffic:
    """The booked requests, in fractions (exposed rounded down, so they never go back)."""

    ok: float = 0.0
    errors: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    seconds: float = 0.0  # the histogram's _sum

    def book(self, requests: float, *, error_ratio: float, latency_s: float) -> None:
        self.errors += requests * error_ratio
        self.ok += requests * (1 - error_ratio)
        self.seconds += requests * latency_s
        for i, le in enumerate(BUCKETS):
            if latency_s <= le:
                self.buckets[i] += requests

    def exposition(self, service: str, env: str) -> str:
        """Prometheus text format (0.0.4)."""
        labels = f'service="{service}",env="{env}"'
        count = _whole(self.buckets[-1])
        lines = [
            "# HELP http_requests_total Requests served.",
            "# TYPE http_requests_total counter",
            f'http_requests_total{{{labels},code="200"}} {_whole(self.ok)}',
            f'http_requests_total{{{labels},code="500"}} {_whole(self.errors)}',
            "# HELP http_request_duration_seconds Time to serve a request.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for le, value in zip(BUCKETS, self.buckets, strict=True):
            bound = "+Inf" if le == math.inf else repr(le)
            lines.append(
                f'http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {_whole(value)}'
            )
        lines += [
            f"http_request_duration_seconds_sum{{{labels}}} {self.seconds!r}",
            f"http_request_duration_seconds_count{{{labels}}} {count}",
        ]
        return "\n".join(lines) + "\n"


class SyntheticService(LoopbackServer):
    """``async with SyntheticService() as svc:`` serves ``/metrics`` at ``svc.target``."""

    def __init__(
        self,
        *,
        service: str = "webapp",
        env: str = "prod",
        requests_per_second: float = 100.0,
        error_ratio: float = 0.01,
        latency_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.env = service, env
        self.requests_per_second = requests_per_second
        self.traffic = Traffic()
        self.scrapes = 0
        self._error_ratio = _ratio(error_ratio)
        self._latency_s = latency_s
        self._clock = clock
        self._booked_to = clock()

    @property
    def error_ratio(self) -> float:
        return self._error_ratio

    @property
    def latency_s(self) -> float:
        return self._latency_s

    @property
    def target(self) -> str:
        """``host:port`` to scrape."""
        return self.url.removeprefix("http://")

    def set_error_ratio(self, ratio: float) -> None:
        """From now on, ``ratio`` of the requests fail with 500."""
        self._book()
        self._error_ratio = _ratio(ratio)

    def set_latency(self, seconds: float) -> None:
        """From now on, every request takes ``seconds``."""
        self._book()
        self._latency_s = seconds

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        await super().start()
        self._booked_to = self._clock()

    def _book(self) -> None:
        now = self._clock()
        requests = max(0.0, now - self._booked_to) * self.requests_per_second
        self.traffic.book(requests, error_ratio=self._error_ratio, latency_s=self._latency_s)
        self._booked_to = now

    async def _metrics(self, _: web.Request) -> web.Response:
        self._book()
        self.scrapes += 1
        return web.Response(
            text=self.traffic.exposition(self.service, self.env),
            content_type="text/plain",
            charset="utf-8",
        )


def _whole(requests: float) -> int:
    """Rounded down, but not below a whole number that float sums just missed."""
    return math.floor(requests + 1e-6)


def _ratio(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"an error ratio lies in [0, 1], not {value}")
    return value
