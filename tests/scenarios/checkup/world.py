"""Herald with a real Prometheus (backfilled release metrics), PagerDuty and Argo CD stand-ins.

Plain helpers; the fixtures that build the world are in this folder's conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.catalog import Catalog
from bot.examples import example_manifest
from standins.argocd import FakeArgoCD
from standins.pagerduty import FakePagerDuty
from standins.slack import FakeSlack
from tests.clock import FakeClock
from tests.conftest import FEED, OPS, Herald, SettingsFactory, start_herald
from tests.harness.release_metrics import HEALTHY, RELEASE, SPIKED

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
CATALOG = Catalog.model_validate(
    {
        "services": {
            HEALTHY: {"owners": ["U0OWNER"], "environments": {"prod": {}}},
            SPIKED: {
                "owners": ["U0OWNER"],
                "auto_rollback": True,
                "environments": {
                    "prod": {
                        "argocd_app": "payments-prod",
                        "rollout": {"name": "payments", "namespace": "payments"},
                    }
                },
            },
        }
    }
)


def with_policy(auto_rollback: Any, *, rollout: bool = True) -> Catalog:
    """CATALOG with SPIKED's `auto_rollback` set (and its Rollout left out, for an Argo CD
    history rollback rather than a canary abort)."""
    raw = CATALOG.model_dump(exclude_none=True)
    raw["services"][SPIKED]["auto_rollback"] = auto_rollback
    if not rollout:
        del raw["services"][SPIKED]["environments"]["prod"]["rollout"]
    return Catalog.model_validate(raw)


def alert_body(
    release_id: str, *, starts_at: datetime, fingerprint: str = "c0ffee0123456789"
) -> dict[str, Any]:
    """An Alertmanager v4 notification of one critical alert on `release_id`."""
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "scope": "release",
            "release_id": release_id,
            "severity": "critical",
        },
        "annotations": {"summary": "5xx ratio above 5% on /checkout"},
        "startsAt": starts_at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com/graph",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "receiver": "herald",
        "status": "firing",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
        "alerts": [alert],
    }


@dataclass
class CheckupWorld:
    slack: FakeSlack
    pagerduty: FakePagerDuty
    argocd: FakeArgoCD
    clock: FakeClock
    settings_factory: SettingsFactory
    prometheus_url: str
    database_url: str
    runners: list[web.AppRunner]
    session: aiohttp.ClientSession

    async def start(self, *, catalog: Catalog = CATALOG, **overrides: Any) -> Herald:
        values: dict[str, Any] = {
            "prometheus_url": self.prometheus_url,
            "pagerduty_events_url": self.pagerduty.url,
            "pagerduty_routing_key": ROUTING_KEY,
            "argocd_url": self.argocd.url,
            "argocd_token": self.argocd.token,
            "checkup_interval_seconds": 0.1,
            "database_url": self.database_url,
        }
        settings = self.settings_factory(**{**values, **overrides})
        runner = await start_herald(settings, catalog=catalog, clock=self.clock)
        self.runners.append(runner)
        return Herald(runner, self.session)

    async def stop(self, herald: Herald) -> None:
        await herald.runner.cleanup()
        self.runners.remove(herald.runner)

    def thread(self, channel: str, release_id: str) -> list[str]:
        """Texts of the replies in a release's thread in `channel`."""
        roots = [m for m in self.slack.posted(channel) if f"({release_id})" in m.text]
        return [r.text for r in self.slack.replies(channel, roots[0].ts)] if roots else []

    def reports(self, release_id: str) -> list[str]:
        return [t for t in self.thread(FEED, release_id) if "Checkup +" in t]

    def aborts(self) -> list[str]:
        """The Argo CD calls that aborted a canary."""
        return [c.path for c in self.argocd.calls if c.method == "POST" and "abort" in str(c.body)]

    def rollbacks(self) -> list[str]:
        """The Argo CD calls that rolled an application back to a history entry."""
        return [c.path for c in self.argocd.calls if c.method == "POST" and "rollback" in c.path]

    def ops_reports(self, release_id: str) -> list[str]:
        return [t for t in self.thread(OPS, release_id) if "Checkup +" in t]


async def deploy(herald: Herald, *, service: str, release_id: str, at_minutes: int = 0) -> None:
    """A release of `service` deployed at RELEASE (+ minutes), planned 2 h earlier."""
    manifest = {**example_manifest(), "id": release_id, "service": service, "flags": []}
    manifest["git"] = {**manifest["git"], "commit": SHA[:7]}
    manifest["created_at"] = (RELEASE - timedelta(hours=2)).isoformat()
    assert (await herald.post_manifest(manifest))[0] == 201
    started = (RELEASE - timedelta(minutes=10)).isoformat()
    deployed = (RELEASE + timedelta(minutes=at_minutes)).isoformat()
    assert (await herald.post_event(release_id, event="release.started", at=started))[0] == 201
    assert (await herald.post_event(release_id, event="release.deployed", at=deployed))[0] == 201
