"""The game day with real parts: a synthetic service scraped by a real Prometheus every
second, a real Alertmanager notifying Herald and, beside it, a bare webhook receiver (the
floor), the Slack, PagerDuty and Argo CD stand-ins, and a real `herald serve` configured only
through the environment and catalogue a user would write.

The Argo CD stand-in plays the cluster: when Herald's rollback lands, the service serves at
its baseline error ratio again. Every moment the world acts or sees something is on its
`timeline()`, which the test and `bench/gameday.py` share.

    async with GameDay(base=tmp_dir) as world:
        release_id = await world.deploy()
        await world.traffic_flows()
        world.spike()
        await world.wait(lambda: world.timeline().rolled_back is not None, timeout=30)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import yaml

from bot.examples import example_manifest
from standins.argocd import ArgoCall, FakeArgoCD
from standins.pagerduty import FakePagerDuty
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, OPS
from tests.gameday.timeline import Posted, Timeline, first_verdict, posted, rolls_back
from tests.harness.alerting import SPIKE_ALERT, AlertingChain, run_chain
from tests.harness.synthetic_service import SyntheticService
from tests.harness.webhook_receiver import WebhookReceiver
from tests.herald_process import HeraldServer
from tests.specs import load_spec
from tests.waiting import Check, eventually

__all__ = ["APP", "CATALOG", "ROUTING_KEY", "SERVICE", "GameDay"]

SERVICE, ENV, APP = "webapp", "prod", "webapp-prod"
SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"  # the release's commit
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"  # what ran before it
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
_LABELS = 'service="{service}",env="{env}"'
CATALOG: dict[str, Any] = {
    "services": {
        SERVICE: {
            "owners": ["U0OWNER"],
            "auto_rollback": {"on_red": True, "on_alert": True},
            # what the synthetic service exposes (tests/harness/synthetic_service.py); it
            # runs no pods, so there is no saturation and there are no restarts to count
            "queries": {
                "requests": f"sum(increase(http_requests_total{{{_LABELS}}}[{{window}}]))",
                "errors": (
                    f'sum(increase(http_requests_total{{{_LABELS},code=~"5.."}}[{{window}}]))'
                ),
                "p95": (
                    "histogram_quantile(0.95, sum by (le)"
                    f" (rate(http_request_duration_seconds_bucket{{{_LABELS}}}[1m])))"
                ),
                "p99": (
                    "histogram_quantile(0.99, sum by (le)"
                    f" (rate(http_request_duration_seconds_bucket{{{_LABELS}}}[1m])))"
                ),
                "health": f"min(up{{{_LABELS}}})",
                "saturation": None,
                "restarts": None,
            },
            "environments": {ENV: {"argocd_app": APP}},  # no Rollout: a history rollback
        }
    }
}


class GameDay:
    """Everything on ephemeral loopback ports, started by `async with`, stopped on exit."""

    def __init__(
        self, *, base: Path, baseline: float = 0.01, release_id: str = "rel-gameday"
    ) -> None:
        self.base = base
        self.baseline = baseline
        self.release_id = release_id
        self.slack = FakeSlack(channels=(FEED, OPS))
        self.pagerduty = FakePagerDuty(spec=load_spec("pagerduty_events_v2_openapiv3.json"))
        self.argocd = FakeArgoCD()
        self.service = SyntheticService(service=SERVICE, env=ENV, error_ratio=baseline)
        self.receiver = WebhookReceiver()  # the floor: a bare receiver on the same route
        self.herald: HeraldServer  # once the Slack stand-in it talks to has started
        self.chain: AlertingChain | None = None
        self._moments: dict[str, float] = {}
        self._stack = AsyncExitStack()
        self._http: aiohttp.ClientSession | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        stack = self._stack
        for server in (self.slack, self.pagerduty, self.argocd, self.service, self.receiver):
            await stack.enter_async_context(server)
        self.herald = HeraldServer(
            slack=self.slack, database=self.base / "herald.db", log=self.base / "herald.log"
        )
        self.argocd.add_app(APP, revision=SHA, history=[(1, OLD_SHA), (2, SHA)])
        self.argocd.listeners.append(self._cluster)
        self.chain = await stack.enter_async_context(
            run_chain(
                webhook_url=f"{self.herald.url}/hooks/alertmanager",
                also_to=[self.receiver.url],
                service=self.service,
                bearer_token=INGEST_TOKEN,
            )
        )
        self._http = await stack.enter_async_context(aiohttp.ClientSession())
        self._configure_herald()
        stack.push_async_callback(self.herald.stop)
        await self.herald.start(within=30)

    def _configure_herald(self) -> None:
        assert self.chain is not None
        catalog = self.base / "herald.yaml"
        catalog.write_text(yaml.safe_dump(CATALOG, sort_keys=False))
        self.herald.env.update(
            HERALD_CONFIG=str(catalog),
            PROMETHEUS_URL=self.chain.prometheus.url,
            ARGOCD_URL=self.argocd.url,
            ARGOCD_TOKEN=self.argocd.token,
            PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
            PAGERDUTY_EVENTS_URL=self.pagerduty.url,
            HERALD_LOG_LEVEL="INFO",
        )
        # production's delivery poll, not the tests' 0.1 s: the workers are woken by commits,
        # and a 0.1 s poll alone costs ~0.1 s of CPU a second, which the benchmark measures
        self.herald.env.pop("HERALD_DELIVERY_POLL_SECONDS", None)

    # -- what CI, the traffic and the cluster do -------------------------------------------

    async def deploy(self) -> str:
        """CI posts the release's manifest, then its start and deploy (once)."""
        if "deployed" in self._moments:
            return self.release_id
        manifest = {**example_manifest(), "id": self.release_id, "service": SERVICE}
        manifest |= {"env": ENV, "flags": [], "created_at": _ago(hours=3)}
        manifest["git"] = {**manifest["git"], "commit": SHA[:7]}
        await self._ingest("/api/v1/releases", manifest)
        events = f"/api/v1/releases/{self.release_id}/events"
        await self._ingest(events, {"event": "release.started"})
        await self._ingest(events, {"event": "release.deployed"})
        self._moments["deployed"] = time.monotonic()
        return self.release_id

    async def traffic_flows(self) -> None:
        """Until Prometheus has the service's error ratio: there is traffic to judge."""
        assert self.chain is not None and self._http is not None
        await self.chain.wait_until_scraped(self._http)

    def spike(self, ratio: float = 0.2) -> None:
        """From now on, `ratio` of the service's requests fail (once)."""
        if "spiked" not in self._moments:
            self.service.set_error_ratio(ratio)
            self._moments["spiked"] = time.monotonic()

    def _cluster(self, call: ArgoCall) -> None:
        """The cluster behind Argo CD: a rollback that lands brings the old, healthy pods."""
        if rolls_back(call) and "healed" not in self._moments:
            self.service.set_error_ratio(self.baseline)
            self._moments["healed"] = time.monotonic()

    async def _ingest(self, path: str, body: dict[str, Any]) -> None:
        assert self._http is not None
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        async with self._http.post(self.herald.url + path, json=body, headers=headers) as resp:
            assert resp.status == 201, f"{path}: {resp.status} {await resp.text()}"

    # -- what the world saw ----------------------------------------------------------------

    def timeline(self) -> Timeline:
        messages = tuple(posted(self.slack.calls))
        alert = self.receiver.first_alert("firing", alertname=SPIKE_ALERT)
        triggers = [
            r.at
            for r in self.pagerduty.requests
            if r.status == 202
            and isinstance(r.body, dict)
            and r.body.get("event_action") == "trigger"
        ]
        rollbacks = [c.at for c in self.argocd.calls if rolls_back(c)]
        return Timeline(
            deployed=self._moments.get("deployed"),
            spiked=self._moments.get("spiked"),
            alerted=alert[0].at if alert else None,
            paged=min(triggers, default=None),
            rolled_back=min(rollbacks, default=None),
            healed=self._moments.get("healed"),
            first_verdict=first_verdict(self.slack.calls, FEED),
            recovered=self._first(messages, self._announces("release.recovered")),
            messages=messages,
        )

    def feed(self) -> list[Posted]:
        """The release's top-level messages in the feed."""
        return [m for m in posted(self.slack.calls) if m.channel == FEED and m.thread_ts is None]

    def thread(self, channel: str) -> list[str]:
        """The texts of the replies in the release's thread in `channel`."""
        roots = [m for m in self.slack.posted(channel) if f"({self.release_id})" in m.text]
        return [r.text for r in self.slack.replies(channel, roots[0].ts)] if roots else []

    async def wait(self, check: Check, *, timeout: float, what: str | None = None) -> None:  # noqa: ASYNC109
        """`eventually(check)`; a failure shows the end of Herald's log."""
        try:
            await eventually(check, timeout=timeout, interval=0.05, what=what)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\nherald serve's log:\n{self.herald.log_tail()}"
            ) from None

    def _announces(self, event: str) -> Callable[[Posted], bool]:
        return lambda m: m.event == event and m.release_id == self.release_id

    @staticmethod
    def _first(messages: tuple[Posted, ...], where: Callable[[Posted], bool]) -> float | None:
        return next((m.at for m in messages if where(m)), None)


def _ago(*, hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
