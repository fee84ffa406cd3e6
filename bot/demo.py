"""`herald demo`: a whole release through the real ingest, Slack and delivery paths, offline.

Herald runs as it would in production (aiohttp server, SQLite store, outbox worker, Bolt app,
Argo CD client) against in-process stand-ins of Slack and Argo CD. CI is played by `herald
emit`'s own client; the on-call engineer by signed `/deploy` requests and button clicks. At the
end each channel is printed as a reader would see it.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot import emit
from bot.app import build_app
from bot.catalog import Catalog
from bot.examples import example_manifest
from bot.logs import configure_logging
from bot.settings import Settings
from bot.slack.ids import ActionId
from bot.standins import slack_requests
from bot.standins.argocd import FakeArgoCD
from bot.standins.argocd_rollout import FakeRollout
from bot.standins.slack import FakeSlack, SlackMessage

FEED, OPS = "CFEED", "COPS"
TOKEN = "demo-ingest-token"
SECRET = "demo-signing-secret"
ONCALL = "U0ONCALL"
OLD_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
NEW_SHA = "9f4c2b1e3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a2b"
CATALOG = {
    "services": {
        "webapp": {
            "owners": [ONCALL],
            "environments": {
                "prod": {
                    "argocd_app": "webapp-prod",
                    "rollout": {"name": "webapp", "namespace": "webapp"},
                }
            },
        }
    }
}


class Demo:
    """Herald plus its stand-ins, and the people who talk to it."""

    def __init__(self, slack: FakeSlack, argocd: FakeArgoCD, base: str) -> None:
        self.slack, self.argocd, self.base = slack, argocd, base
        self.now = datetime.now(UTC)
        self._ids = itertools.count(1)

    async def ci(self, path: str, body: dict[str, Any]) -> None:
        result = await emit.post_json(url=f"{self.base}{path}", token=TOKEN, body=body)
        print(f"CI      → {result.describe()}")
        if not result.ok:
            raise RuntimeError(result.describe())

    async def event(self, release_id: str, event: str, minutes_ago: float, **details: Any) -> None:
        at = (self.now - timedelta(minutes=minutes_ago)).isoformat()
        await self.ci(
            f"/api/v1/releases/{release_id}/events", {"event": event, "at": at, **details}
        )

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
        async with FakeSlack(channels=(FEED, OPS)) as slack, FakeArgoCD() as argocd:
            argocd.add_app(
                "webapp-prod",
                revision=NEW_SHA,
                history=[(11, OLD_SHA), (12, NEW_SHA)],
                rollout=FakeRollout("webapp", "webapp"),
            )
            runner = await _start_herald(slack, argocd, Path(tmp))
            try:
                demo = Demo(slack, argocd, _base_url(runner))
                await play(demo)
                await slack.wait_for(lambda: _delivered(slack), timeout=30)
            finally:
                await runner.cleanup()
            print(render_channels(slack))
    elapsed = time.monotonic() - started
    print(f"\nPlayed two releases, three /deploy commands and a rollback in {elapsed:.1f}s.")
    return 0


async def play(demo: Demo) -> None:
    """Last week's good release, today's release, a canary promote, a failure and a rollback."""
    previous = {**example_manifest(), "id": "rel-2025-09-30.1", "version": "1.41.3", "flags": []}
    previous["rollback"] = {"to_version": "1.41.2", "strategy": "Argo CD rollback"}
    previous["git"] = {**previous["git"], "commit": OLD_SHA[:7], "tag": "v1.41.3"}
    previous["created_at"] = (demo.now - timedelta(days=2)).isoformat()
    await demo.ci("/api/v1/releases", previous)
    await demo.event(previous["id"], "release.started", 2 * 24 * 60 - 5)
    await demo.event(
        previous["id"], "release.deployed", 2 * 24 * 60 - 15, lead_time_seconds=5 * 3600
    )

    manifest = {**example_manifest(), "created_at": (demo.now - timedelta(minutes=50)).isoformat()}
    manifest["git"] = {**manifest["git"], "commit": NEW_SHA[:7]}
    manifest["links"] = {"changelog": "https://github.com/acme/webapp/releases/tag/v1.42.0"}
    rid = manifest["id"]
    await demo.ci("/api/v1/releases", manifest)
    await demo.event(
        rid, "release.started", 45, links={"run": "https://ci.example.com/acme/webapp/runs/8812"}
    )
    await demo.event(rid, "release.deployed", 38, lead_time_seconds=28800)
    await demo.slack.wait_for(lambda: len(demo.slack.posted(FEED)) == 6, timeout=10)

    await demo.slash("status webapp")
    await demo.slash("promote webapp 50%")
    await demo.event(
        rid,
        "release.failed",
        12,
        symptom="spike in 5xx on /checkout",
        pagerduty="P2-8831",
        blast_radius="~12% users",
        flag_state="billing_pricing_v2=off",
        next="rolling back via Argo Rollout",
        eta="5m",
    )
    confirm = await demo.slash("rollback webapp")
    button = confirm["blocks"][1]["elements"][0]
    await demo.click(ActionId.ROLLBACK_CONFIRM, button["value"], "Roll back")
    await demo.event(rid, "release.recovered", 0)


async def _start_herald(slack: FakeSlack, argocd: FakeArgoCD, tmp: Path) -> web.AppRunner:
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
        delivery_poll_seconds=0.1,
    )
    runner = web.AppRunner(build_app(settings, catalog=Catalog.model_validate(CATALOG)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _base_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


def _delivered(slack: FakeSlack) -> bool:
    ops = slack.posted(OPS)
    recovered = [m for m in slack.posted(FEED) if "release.recovered" in m.text]
    return (
        bool(recovered)
        and len(ops) == 1
        and any("recovered" in m.text for m in slack.replies(OPS, ops[0].ts))
    )


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
