"""What the game day saw, and when: each moment is `time.monotonic()` in the test's process,
the clock every stand-in stamps its requests with, so any two can be subtracted.

A `Timeline` is read from the stand-ins' own records at the time it is asked for (the bare
receiver's deliveries, PagerDuty's requests, Argo CD's calls, Slack's `chat.postMessage`
calls), plus the moments the world itself acted (deploy, spike, heal). Something that has
not happened yet is `None`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from standins.argocd import ArgoCall
from standins.slack import SlackCall

__all__ = ["Posted", "Timeline", "first_verdict", "posted", "rolls_back"]

# the watch's one message once it announces a colour (it is posted "judging", then edited)
VERDICT = re.compile(r"\*Early watch: (green|yellow|red|inconclusive|unknown)\*")


@dataclass(frozen=True)
class Posted:
    """One message Herald posted, as Slack received it."""

    at: float
    channel: str
    thread_ts: str | None
    text: str
    event: str | None  # the release event it announces (`release.failed`), if any
    release_id: str | None


@dataclass(frozen=True)
class Timeline:
    deployed: float | None = None  # CI's release.deployed was accepted
    spiked: float | None = None  # the world flipped the error ratio up
    alerted: float | None = None  # the spike's alert reached the bare receiver: the floor
    paged: float | None = None  # the first trigger reached the PagerDuty stand-in
    rolled_back: float | None = None  # Argo CD accepted Herald's rollback
    healed: float | None = None  # the world flipped the service back to healthy
    first_verdict: float | None = None  # the early watch's message first showed a colour
    recovered: float | None = None  # release.recovered reached the feed
    messages: tuple[Posted, ...] = ()

    def between(self, start: str, end: str) -> float | None:
        """Seconds from moment `start` to moment `end` (names of fields); None if either is
        still to come."""
        begin, until = getattr(self, start), getattr(self, end)
        if begin is None or until is None:
            return None
        return float(until - begin)


def posted(calls: list[SlackCall]) -> list[Posted]:
    """Every message Slack accepted from Herald, in the order it arrived."""
    return [_posted(c) for c in calls if c.method == "chat.postMessage" and c.ok]


def first_verdict(calls: list[SlackCall], channel: str) -> float | None:
    """When the watch's message in `channel` first showed a colour: its post, or the
    `chat.update` that first gave it one."""
    for call in calls:
        if call.method in ("chat.postMessage", "chat.update") and call.ok:
            said = str(call.body.get("text") or "")
            if call.body.get("channel") == channel and VERDICT.search(said):
                return call.at
    return None


def rolls_back(call: ArgoCall) -> bool:
    """An Argo CD call that took a release back and was accepted: a rollback to a history
    entry, or a Rollout's abort action."""
    if call.method != "POST" or call.status != 200:
        return False
    if call.path.endswith("/rollback"):
        return True
    return "/resource/actions" in call.path and "abort" in str(call.body)


def _posted(call: SlackCall) -> Posted:
    payload = _payload(call.body.get("metadata"))
    thread = call.body.get("thread_ts")
    return Posted(
        at=call.at,
        channel=str(call.body.get("channel")),
        thread_ts=str(thread) if thread else None,
        text=str(call.body.get("text") or ""),
        event=_string(payload.get("event")),
        release_id=_string(payload.get("id")),
    )


def _payload(metadata: Any) -> dict[str, Any]:
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload if isinstance(payload, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None
