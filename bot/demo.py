"""`herald demo`: a whole release through the real ingest and delivery path, offline.

Herald runs as it would in production (aiohttp server, SQLite store, outbox worker, Slack Web
API client) against an in-process Slack stand-in; the CI side is played by `herald emit`'s own
client. At the end each channel is printed as a reader would see it.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import emit
from bot.app import build_app
from bot.examples import example_manifest
from bot.logs import configure_logging
from bot.settings import Settings
from bot.standins.slack import FakeSlack, SlackMessage

FEED, OPS = "CFEED", "COPS"
TOKEN = "demo-ingest-token"
# (event, minutes after the manifest was created, details)
STEPS: list[tuple[str, int, dict[str, Any]]] = [
    ("release.started", 2, {"links": {"run": "https://ci.example.com/acme/webapp/runs/8812"}}),
    ("release.deployed", 9, {"lead_time_seconds": 28800}),
    (
        "release.failed",
        24,
        {
            "symptom": "spike in 5xx on /checkout",
            "pagerduty": "P2-8831",
            "blast_radius": "~12% users",
            "flag_state": "billing_pricing_v2=off",
            "next": "rolling back via Argo Rollout",
            "eta": "5m",
        },
    ),
    ("release.rolled_back", 27, {"to_version": "1.41.3", "reason": "5xx above 2% on /checkout"}),
    ("release.recovered", 36, {}),
]


async def run_demo(*, show_logs: bool = False) -> int:
    configure_logging(level="INFO" if show_logs else "ERROR", json_lines=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="herald-demo-") as tmp:
        async with FakeSlack(channels=(FEED, OPS)) as slack:
            runner = await _start_herald(slack, Path(tmp))
            try:
                base = _base_url(runner)
                await _play(base)
                await slack.wait_for(lambda: _delivered(slack), timeout=30)
            finally:
                await runner.cleanup()
            print(render_channels(slack))
    print(f"\nPlayed 6 lifecycle events in {time.monotonic() - started:.1f}s.")
    return 0


async def _start_herald(slack: FakeSlack, tmp: Path) -> web.AppRunner:
    settings = Settings(
        slack_bot_token=slack.token,
        slack_signing_secret="demo-signing-secret",
        slack_api_url=slack.api_url,
        feed_channel=FEED,
        ops_channel=OPS,
        database_url=f"sqlite:///{tmp / 'herald.db'}",
        ingest_token=TOKEN,
        delivery_poll_seconds=0.1,
    )
    runner = web.AppRunner(build_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _base_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


async def _play(base: str) -> None:
    manifest = example_manifest()
    manifest["links"] = {"changelog": "https://github.com/acme/webapp/releases/tag/v1.42.0"}
    await _send(f"{base}/api/v1/releases", manifest)
    created = datetime.fromisoformat(manifest["created_at"])
    for event, minutes, details in STEPS:
        at = (created + timedelta(minutes=minutes)).isoformat()
        body = {"event": event, "at": at, **details}
        await _send(f"{base}/api/v1/releases/{manifest['id']}/events", body)


async def _send(url: str, body: dict[str, Any]) -> None:
    result = await emit.post_json(url=url, token=TOKEN, body=body)
    print(f"CI  → {result.describe()}")
    if not result.ok:
        raise RuntimeError(result.describe())


def _delivered(slack: FakeSlack) -> bool:
    feed = slack.posted(FEED)
    ops = slack.posted(OPS)
    return len(feed) == 6 and len(ops) == 1 and len(slack.replies(OPS, ops[0].ts)) == 2


def render_channels(slack: FakeSlack) -> str:
    """Each channel as a reader sees it: top-level messages, then each thread indented."""
    out: list[str] = []
    for title, channel in (("#release-feed", FEED), ("#release-ops", OPS)):
        out.append(f"\n━━ {title} ━━")
        for message in slack.posted(channel):
            out.append(_indent(message, ""))
            for reply in slack.replies(channel, message.ts):
                out.append(_indent(reply, "    ↳ "))
    return "\n".join(out)


def _indent(message: SlackMessage, prefix: str) -> str:
    pad = " " * len(prefix)
    lines = message.text.splitlines() or [""]
    return "\n".join([prefix + lines[0], *(pad + line for line in lines[1:])])
