"""A fake Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over real HTTP.

Point ``PrometheusClient(base_url=fake.url)`` (or ``PROMETHEUS_URL``) at it. It parses and
evaluates the PromQL that Herald's default ``ServiceQueries`` templates use: ``sum``, ``min``,
``max``, ``avg`` and ``count`` (optionally ``by``/``without``), ``increase`` and ``rate`` over
a range selector, ``histogram_quantile``, label matchers (``=``, ``!=``, ``=~``, ``!~``) and
arithmetic. It evaluates them against one simulated service for each ``service="…"`` named
in the query. Answers (GET or POST form) use Prometheus's envelope, with numbers as strings.
A query it cannot parse or evaluate gets Prometheus's ``bad_data`` 400. Depends only on
aiohttp and the standard library.

The simulated service matches ``tests/harness/release_metrics.py``, scraped every 15 s:

- 100 requests per step. ``healthy`` (the default) has one 5xx every 5th step (0.2 %);
  ``spike`` has 8 per step (8 %) after its ``release_at``.
- Latency buckets ≤0.1 s: 50 %, ≤0.25 s: 90 %, ≤0.5 s: 98 %, ≤1 s: 100 %, so p95 is
  406 ms and p99 750 ms.
- 0.3 of a 1-CPU limit, every target up and every pod ready, no restarts.
- With a canary (``set_profile(..., canary=(stable_hash, canary_hash))``), the canary's pods
  take 25 of the 100 requests per step from ``release_at`` on; the HTTP series and ``up``
  carry ``rollouts_pod_template_hash``. The stable pods keep the healthy errors; a ``spike``
  gives the canary's pods 2 5xx per step (8 %).

Counters grow by whole steps. ``increase(x[w])`` at ``t`` is the sum over the 15 s steps in
``(t-w, t]``, with no extrapolation; ``rate`` divides that by ``w``. A selector without
``service="…"`` selects nothing: the answer is an empty vector, as for an unknown metric.
"""

from __future__ import annotations

from standins.prometheus.series import PROFILES, Profile
from standins.prometheus.server import FakePrometheus

__all__ = ["PROFILES", "FakePrometheus", "Profile"]
