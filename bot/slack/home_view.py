"""The Home tab (pure Block Kit, within a Home tab's 100 blocks): each list a heading and its
lines, every release linking to its thread."""

from __future__ import annotations

from typing import Any

from bot.domain.home.screen import HomeScreen, Line
from bot.domain.text import display_version
from bot.slack.ids import ActionId
from bot.slack.layout import MAX_HOME_BLOCKS, Block, button, header, pack_sections
from bot.slack.mrkdwn import escape_mrkdwn, local_time


def home_view(screen: HomeScreen) -> dict[str, Any]:
    services = ", ".join(f"`{escape_mrkdwn(s)}`" for s in screen.services)
    groups = [
        ("*Your services*", [services or "None: the catalogue names you on no service."]),
        ("*Releases in flight*", [_line(x) for x in screen.in_flight] or ["Nothing in flight."]),
        ("*Open incidents*", [_line(x) for x in screen.incidents] or ["No open incident."]),
        (
            "*Approvals waiting for you*",
            [_line(x) for x in screen.approvals] or ["Nothing waits for you."],
        ),
        ("*Freezes in force*", _freezes(screen) or ["No freeze holds anything now."]),
        ("*DORA, last 30 days*", _dora(screen) or ["No services of yours to measure."]),
    ]
    room = MAX_HOME_BLOCKS - 1 - (screen.dms is not None)
    blocks = [header("Herald"), *pack_sections(groups, max_blocks=room)]
    if screen.dms is not None:
        blocks.append(_dms_switch(on=screen.dms))
    return {"type": "home", "callback_id": "herald_home", "blocks": blocks}


def _dms_switch(*, on: bool) -> Block:
    if on:
        switch = button("Stop DMs about my releases", ActionId.DMS_OFF, "off")
    else:
        switch = button("DM me when my releases ship or fail", ActionId.DMS_ON, "on")
    return {"type": "actions", "elements": [switch]}


def _line(line: Line) -> str:
    release = line.release
    what = f"{release.service} {release.env} {display_version(release.version)}"
    named = escape_mrkdwn(what)
    shown = f"<{line.link}|{named}>" if line.link else f"`{named}`"
    who = f" <@{line.who}>" if line.who else ""
    return f"• {shown} ({escape_mrkdwn(release.id)}) — {escape_mrkdwn(line.note)}{who}"


def _freezes(screen: HomeScreen) -> list[str]:
    return [
        f"• :snowflake: {escape_mrkdwn(o.name)} until {local_time(o.end)} —"
        f" {escape_mrkdwn(o.scope.describe())}: {escape_mrkdwn(o.reason)}"
        for o in screen.freezes
    ]


def _dora(screen: HomeScreen) -> list[str]:
    lines = []
    for figures in screen.dora:
        rate = figures.change_failure_rate
        cfr = f"{rate:.0%} change failure rate" if rate is not None else "too few to rate"
        lines.append(f"• `{escape_mrkdwn(figures.service)}`: {figures.deploys} deploys, {cfr}")
    return lines
