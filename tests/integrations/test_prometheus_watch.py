"""PrometheusMetricsSource.gather_watch against the Prometheus stand-in, through the watch's
rules and hysteresis: a healthy release is green, a spike is red within two evaluations, a
canary is judged against its stable pods; and a real Prometheus, backfilled with the
stand-in's own series, gives the same numbers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.domain.checkup.metrics import MetricsUnavailable
from bot.domain.watch.hysteresis import WatchState, observe
from bot.domain.watch.inputs import Comparison, Unavailable, WatchInputs
from bot.domain.watch.queries import CanaryScope, WatchQueries
from bot.domain.watch.rules import judge
from bot.domain.watch.verdict import WatchColor
from bot.domain.watch.windows import watch_windows
from bot.integrations.prometheus import PrometheusClient, PrometheusMetricsSource
from standins.prometheus import FakePrometheus, Profile
from standins.prometheus.series import STEP, Behaviour, simulate_service
from tests.harness.prometheus import start_prometheus

R = datetime.fromtimestamp(1_700_003_700, UTC)  # on the grid
CANARY = CanaryScope(canary="6b8f7d", stable="5c9a1e")
PROFILES: dict[str, tuple[Profile, CanaryScope | None]] = {  # service: (profile, canary)
    "checkout": ("healthy", None),
    "payments": ("spike", None),
    "webapp": ("spike", CANARY),
    "search": ("healthy", CANARY),
}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def prom() -> AsyncIterator[FakePrometheus]:
    async with FakePrometheus() as fake:
        for service, (profile, canary) in PROFILES.items():
            hashes = None if canary is None else (canary.stable, canary.canary)
            fake.set_profile(service, profile, release_at=R, canary=hashes)
        yield fake


def source(session: aiohttp.ClientSession, url: str) -> PrometheusMetricsSource:
    client = PrometheusClient(session=session, base_url=url, retry_delay_seconds=0.01)
    return PrometheusMetricsSource(client)


async def gather(
    src: PrometheusMetricsSource,
    service: str,
    age: float,
    *,
    canary: CanaryScope | None = None,
    queries: WatchQueries | None = None,
) -> WatchInputs:
    return await src.gather_watch(
        queries=queries or WatchQueries(),
        service=service,
        env="prod",
        windows=watch_windows(R, R + timedelta(seconds=age)),
        canary=canary,
    )


def errors_in(seconds: tuple[float, float], pods: str = "all") -> float:
    """The healthy stand-in's 5xx in ``(R + a, R + b]``."""
    a, b = (R.timestamp() + s for s in seconds)
    return Behaviour().errors(a, b, "all" if pods == "all" else "stable")


async def test_a_healthy_release_gathers_every_number_and_is_green(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    inputs = await gather(source(session, prom.url), "checkout", 120)
    assert inputs.comparison is Comparison.BASELINE
    assert (inputs.window.requests, inputs.window.errors) == (800, errors_in((0, 120)))
    assert (inputs.reference.requests, inputs.reference.errors) == (800, errors_in((-120, 0)))
    assert (inputs.last.requests, inputs.last.errors) == (400, errors_in((60, 120)))
    assert inputs.p95 == pytest.approx(0.40625)
    assert (inputs.health, inputs.ready, inputs.restarts) == (1.0, 1.0, 0.0)
    assert inputs.errors == {}
    assert prom.queries_served == 10
    assert set(prom.kinds) == {"requests", "errors", "p95", "health", "ready", "restarts"}
    assert judge(inputs).color is WatchColor.GREEN


async def test_a_spike_is_announced_red_at_the_second_evaluation(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    src, state = source(session, prom.url), WatchState(origin=R)
    first = observe(state, await gather(src, "payments", 15))
    assert first.verdict.fired_rules() == ("W3",)  # 100 requests: too few for W1
    assert first.announced is None
    second = observe(first.state, await gather(src, "payments", 30))
    assert second.verdict.fired_rules() == ("W1", "W2", "W3")
    assert second.announcement is not None and second.announced is WatchColor.RED
    later = judge(await gather(src, "payments", 120))
    assert later.fired_rules() == ("W1", "W3")
    assert later.reason().startswith("W1: 5xx ratio 8.00% vs baseline 0.25% in the last 2m")


async def test_a_canary_is_judged_against_its_stable_pods(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    src = source(session, prom.url)
    inputs = await gather(src, "webapp", 120, canary=CANARY)
    assert inputs.comparison is Comparison.STABLE
    assert (inputs.window.requests, inputs.window.errors) == (200, 16)  # 25 a step, 8 %
    assert (inputs.reference.requests, inputs.reference.errors) == (600, errors_in((0, 120), "s"))
    assert (inputs.last.requests, inputs.last.errors) == (100, 8)
    assert inputs.health == 1.0
    assert prom.queries_served == 10  # the probe's two answers are the canary's and stable's
    verdict = judge(inputs)
    assert verdict.fired_rules() == ("W1", "W3")
    assert verdict.signals[0].metric == "canary 5xx ratio"
    healthy = judge(await gather(src, "search", 120, canary=CANARY))
    assert healthy.color is WatchColor.GREEN and healthy.requests == 200


async def test_without_the_hash_label_a_canary_falls_back_to_the_baseline(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    inputs = await gather(source(session, prom.url), "checkout", 120, canary=CANARY)
    assert inputs.comparison is Comparison.BASELINE
    assert (inputs.window.requests, inputs.reference.requests) == (800, 800)
    assert prom.queries_served == 12  # the probe, then the whole baseline plan


async def test_an_unreachable_prometheus_is_unknown_at_once(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    prom.down = True
    with pytest.raises(MetricsUnavailable, match="Could not reach Prometheus") as caught:
        await gather(source(session, prom.url), "checkout", 15)
    update = observe(
        WatchState(origin=R), Unavailable(R + timedelta(seconds=15), caught.value.message)
    )
    assert update.announcement is not None and update.announced is WatchColor.UNKNOWN
    assert update.announcement.reason().startswith("Could not reach Prometheus")


async def test_a_refused_query_is_recorded_and_yellow(
    prom: FakePrometheus, session: aiohttp.ClientSession
) -> None:
    queries = WatchQueries(ready="min(")
    inputs = await gather(source(session, prom.url), "checkout", 120, queries=queries)
    assert inputs.errors["ready"].startswith("bad_data: ")
    assert inputs.ready is None and inputs.health == 1.0
    assert judge(inputs).color is WatchColor.YELLOW


# -- a real Prometheus ---------------------------------------------------------------------------


def openmetrics(start: float, end: float) -> str:
    """Every stand-in series of PROFILES, scraped every 15 s from ``start`` to ``end``."""
    families: dict[str, list[str]] = {}
    times = [start + i * STEP for i in range(int((end - start) // STEP) + 1)]
    for service, (profile, canary) in PROFILES.items():
        hashes = None if canary is None else (canary.stable, canary.canary)
        behaviour = Behaviour(profile, R.timestamp(), hashes)
        for name, series in simulate_service(service, "prod", behaviour).items():
            lines = families.setdefault(name, [f"# TYPE {name} unknown"])
            for s in series:
                labels = ",".join(f'{k}="{v}"' for k, v in s.labels if k != "__name__")
                lines += [f"{name}{{{labels}}} {s.value(t):.17g} {t:.0f}" for t in times]
    return "\n".join([*(line for lines in families.values() for line in lines), "# EOF"]) + "\n"


def same(a: object, b: object) -> bool:
    """Equal dataclasses, floats compared to 1e-9 (Prometheus extrapolates in floating point)."""

    def close(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
        if hasattr(x, "__dataclass_fields__") and type(x) is type(y):
            return same(x, y)
        return x == y

    return all(close(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))  # type: ignore[arg-type]


@pytest.mark.slow
async def test_a_real_prometheus_gives_the_stand_ins_numbers(
    prometheus_bin: tuple[Path, Path],
    tmp_path: Path,
    prom: FakePrometheus,
    session: aiohttp.ClientSession,
) -> None:
    r = R.timestamp()
    data = openmetrics(r - 3600, r + 1200)
    real = await asyncio.to_thread(start_prometheus, tmp_path, openmetrics=data)
    try:
        ours, theirs = source(session, prom.url), source(session, real.url)
        for service, (_, canary) in PROFILES.items():
            for age in (15, 30, 60, 135, 600):
                mine = await gather(ours, service, age, canary=canary)
                other = await gather(theirs, service, age, canary=canary)
                assert other.window.requests and other.reference.requests, (service, age)
                assert same(mine, other), (service, age, mine, other)
                assert judge(mine).findings == judge(other).findings, (service, age)
    finally:
        await asyncio.to_thread(real.stop)
