"""`herald demo`: a whole release through the real ingest, Slack and delivery paths, offline.

Herald runs as it would in production (aiohttp server, SQLite store, outbox worker, Bolt app,
Argo CD client) against in-process stand-ins of Slack and Argo CD. CI is played by `herald
emit`'s own client; the on-call engineer by signed `/deploy` requests and button clicks. At the
end each channel is printed as a reader would see it.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import build_app
from bot.catalog import Catalog
from bot.cli import emit
from bot.examples import example_manifest
from bot.logs import configure_logging
from bot.settings import Settings
from bot.slack.ids import ActionId
from standins import slack_requests
from standins.argocd import FakeArgoCD
from standins.argocd_rollout import FakeRollout
from standins.pagerduty import FakePagerDuty
from standins.prometheus import FakePrometheus
from standins.slack import FakeSlack, SlackMessage

FEED, OPS = "CFEED", "COPS"
TOKEN = "demo-ingest-token"
SECRET = "demo-signing-secret"
ONCALL = "U0ONCALL"
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
NEW_SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"
ROUTING_KEY = "D3M0R0UT1NGKEY0123456789abcdefAB"
CATALOG = {
    "services": {
        "webapp": {
            "owners": [ONCALL],
            "auto_rollback": True,
            "environments": {
                "prod": {
                    "argocd_app": "webapp-prod",
                    "rollout": {"name": "webapp", "namespace": "webapp"},
                }
            },
        }
    }
}


@dataclass
class StandIns:
    slack: FakeSlack
    argocd: FakeArgoCD
    prometheus: FakePrometheus
    pagerduty: FakePagerDuty


class DemoClock:
    """Herald's clock in the demo: real time, moved forward to reach the checkups."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Demo:
    """Herald plus its stand-ins, and the people who talk to it."""

    def __init__(self, stand_ins: StandIns, base: str, clock: DemoClock) -> None:
        self.slack, self.argocd = stand_ins.slack, stand_ins.argocd
        self.prometheus, self.pagerduty = stand_ins.prometheus, stand_ins.pagerduty
        self.base, self.clock = base, clock
        self.now = clock()
        self._ids = itertools.count(1)

    async def wait_for_reports(self, count: int) -> None:
        def reports() -> int:
            return sum("Checkup +" in m.text for m in self.slack.messages(FEED))

        await self.slack.wait_for(lambda: reports() >= count, timeout=20)
        latest = [m.text for m in self.slack.messages(FEED) if "Checkup +" in m.text][-1]
        print(f"Herald  → {_indent(latest, '')}\n")

    async def ci(self, path: str, body: dict[str, Any]) -> None:
        # CI's own client, which blocks: in a thread, as Herald answers on this loop
        result = await asyncio.to_thread(
            emit.post_json, url=f"{self.base}{path}", token=TOKEN, body=body
        )
        print(f"CI      → {result.describe()}")
        if not result.ok:
            raise RuntimeError(result.describe())

    async def event(self, release_id: str, event: str, minutes_ago: float, **details: Any) -> None:
        at = (self.now - timedelta(minutes=minutes_ago)).isoformat()
        await self.ci(
            f"/api/v1/releases/{release_id}/events", {"event": event, "at": at, **details}
        )

    async def ci_at(self, path: str, body: dict[str, Any]) -> None:
        """A CI event stamped with Herald's (moved) clock."""
        await self.ci(path, {**body, "at": self.clock().isoformat()})

    async def slash(self, text: str) -> dict[str, Any]:
        key = f"demo{next(self._ids)}"
        body = slack_requests.slash_command(
            text, user=ONCALL, trigger_id=f"{key}.t", response_url=self.slack.response_url(key)
        )
        await self._post(body)
        answer = await self._answer(key)
        print(f"\n@oncall › /deploy {text}\n{_indent(answer['text'])}\n")
        return answer

    async def click(self, action_id: str, value: str, label: str) -> None:
        key = f"demo{next(self._ids)}"
        body = slack_requests.block_action(
            action_id=action_id,
            value=value,
            user=ONCALL,
            trigger_id=f"{key}.t",
            action_ts=f"{time.time():.6f}",
            response_url=self.slack.response_url(key),
        )
        await self._post(body)
        print(f"@oncall › [{label}]\n{_indent((await self._answer(key))['text'])}\n")

    async def _post(self, body: str) -> None:
        headers = slack_requests.signed_headers(body, secret=SECRET)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.base}/slack/events", data=body.encode(), headers=headers
            ) as response,
        ):
            response.raise_for_status()

    async def _answer(self, key: str) -> dict[str, Any]:
        await self.slack.wait_for(
            lambda: any(r["_key"] == key for r in self.slack.responses), timeout=10
        )
        return next(r for r in self.slack.responses if r["_key"] == key)


async def run_demo(*, show_logs: bool = False) -> int:
    configure_logging(level="INFO" if show_logs else "CRITICAL", json_lines=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="herald-demo-") as tmp:
        async with (
            FakeSlack(channels=(FEED, OPS)) as slack,
            FakeArgoCD() as argocd,
            FakePrometheus() as prometheus,
            FakePagerDuty() as pagerduty,
        ):
            argocd.add_app(
                "webapp-prod",
                revision=NEW_SHA,
                history=[(11, OLD_SHA), (12, NEW_SHA)],
                rollout=FakeRollout("webapp", "webapp"),
            )
            stand_ins, clock = StandIns(slack, argocd, prometheus, pagerduty), DemoClock()
            runner = await _start_herald(stand_ins, Path(tmp), clock)
            try:
                await play(Demo(stand_ins, _base_url(runner), clock))
                await slack.wait_for(lambda: _delivered(slack), timeout=30)
            finally:
                await runner.cleanup()
            print(render_channels(slack))
            print(render_pages(pagerduty))
    elapsed = time.monotonic() - started
    print(f"\nPlayed a release, two checkups, a page and two rollbacks in {elapsed:.1f}s.")
    return 0


async def play(demo: Demo) -> None:
    """A release through CI, a canary promote, a green and a red checkup, a page, an
    automatic canary abort, a confirmed Argo CD rollback, and recovery."""
    manifest = {**example_manifest(), "created_at": (demo.now - timedelta(hours=9)).isoformat()}
    manifest["git"] = {**manifest["git"], "commit": NEW_SHA[:7]}
    manifest["links"] = {"changelog": "https://github.com/acme/webapp/releases/tag/v1.42.0"}
    rid = manifest["id"]
    await demo.ci("/api/v1/releases", manifest)
    await demo.event(rid, "release.started", 9, links={"run": "https://ci.example.com/runs/8812"})
    await demo.event(rid, "release.deployed", 0, lead_time_seconds=28800)
    await demo.slack.wait_for(lambda: len(demo.slack.posted(FEED)) == 3, timeout=10)

    await demo.slash("status webapp")
    await demo.slash("promote webapp 50%")

    print("…15 minutes later: the +15m checkup (simulated metrics, healthy)")
    demo.clock.offset = timedelta(minutes=15)
    await demo.wait_for_reports(1)
    print("…5xx climb to 8% of requests; 15 minutes later, the +30m checkup")
    demo.prometheus.set_profile("webapp", "spike", release_at=demo.clock())
    demo.clock.offset = timedelta(minutes=30)
    await demo.wait_for_reports(2)
    await demo.pagerduty.wait_for(lambda: len(demo.pagerduty.events) == 1, timeout=10)
    rollout = demo.argocd.app("webapp-prod").rollout
    await demo.slack.wait_for(lambda: rollout is not None and rollout.aborted, timeout=10)
    print("Herald  → paged on-call, opened the incident thread, aborted the canary\n")

    confirm = await demo.slash("rollback webapp")
    button = confirm["blocks"][1]["elements"][0]
    await demo.click(ActionId.ROLLBACK_CONFIRM, button["value"], "Roll back")
    demo.clock.offset += timedelta(minutes=7)  # 5xx back to baseline
    await demo.ci_at(f"/api/v1/releases/{rid}/events", {"event": "release.recovered"})


async def _start_herald(stand_ins: StandIns, tmp: Path, clock: DemoClock) -> web.AppRunner:
    slack, argocd = stand_ins.slack, stand_ins.argocd
    settings = Settings(
        slack_bot_token=slack.token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        feed_channel=FEED,
        ops_channel=OPS,
        database_url=f"sqlite:///{tmp / 'herald.db'}",
        ingest_token=TOKEN,
        argocd_url=argocd.url,
        argocd_token=argocd.token,
        prometheus_url=stand_ins.prometheus.url,
        pagerduty_events_url=stand_ins.pagerduty.url,
        pagerduty_routing_key=ROUTING_KEY,
        delivery_poll_seconds=0.1,
        checkup_interval_seconds=0.1,
    )
    app = build_app(settings, catalog=Catalog.model_validate(CATALOG), clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _base_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


def _delivered(slack: FakeSlack) -> bool:
    ops = slack.posted(OPS)
    recovered = [m for m in slack.posted(FEED) if "release.recovered" in m.text]
    if ops and not any("Argo CD" in m.text and "back to" in m.text for m in slack.messages(OPS)):
        return False
    return (
        bool(recovered)
        and len(ops) == 1
        and any("recovered" in m.text for m in slack.replies(OPS, ops[0].ts))
    )


def render_pages(pagerduty: FakePagerDuty) -> str:
    lines = ["\n━━ PagerDuty ━━"]
    for event in pagerduty.events:
        summary = event.get("payload", {}).get("summary", "")
        lines.append(f"{event['event_action']:8} {event.get('dedup_key')}  {summary}")
    return "\n".join(lines)


def render_channels(slack: FakeSlack) -> str:
    """Each channel as a reader sees it: top-level messages, then each thread indented."""
    out: list[str] = []
    for title, channel in (("#release-feed", FEED), ("#release-ops", OPS)):
        out.append(f"\n━━ {title} ━━")
        for message in slack.posted(channel):
            out.append(_message(message, ""))
            for reply in slack.replies(channel, message.ts):
                out.append(_message(reply, "    ↳ "))
    return "\n".join(out)


def _message(message: SlackMessage, prefix: str) -> str:
    return _indent(message.text, prefix)


def _indent(text: str, prefix: str = "    ") -> str:
    pad = " " * len(prefix)
    lines = text.splitlines() or [""]
    return "\n".join([prefix + lines[0], *(pad + line for line in lines[1:])])
