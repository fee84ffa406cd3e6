"""`herald emit`: the CI client that posts manifests and lifecycle events to Herald."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp


@dataclass(frozen=True)
class EmitResult:
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status < 300

    def describe(self) -> str:
        """One line for a CI log: what happened, or the server's error and its details."""
        if self.ok:
            release = self.body.get("release", {})
            event = self.body.get("event", {}).get("event", "")
            verb = "recorded" if self.body.get("created") else "already recorded"
            return f"{verb}: {event} for {release.get('id')} ({release.get('state')})"
        details = "; ".join(
            f"{d.get('path')}: {d.get('message')}" for d in self.body.get("details", [])
        )
        error = self.body.get("error", "no error message")
        return f"HTTP {self.status}: {error}" + (f" ({details})" if details else "")


def build_event(
    *, event: str, lead_time: float | None, links: list[str], fields: list[str], key: str | None
) -> dict[str, Any]:
    """Turn CLI flags into an event body. `--link run=URL`, `--set symptom=...`."""
    body: dict[str, Any] = {"event": event if event.startswith("release.") else f"release.{event}"}
    if lead_time is not None:
        body["lead_time_seconds"] = lead_time
    if key:
        body["idempotency_key"] = key
    if links:
        body["links"] = dict(_pair(item, "--link") for item in links)
    for item in fields:
        name, value = _pair(item, "--set")
        body[name] = value
    return body


def _pair(item: str, flag: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(f"{flag} expects NAME=VALUE, got {item!r}")
    return name, value


async def post_json(
    *, url: str, token: str, body: dict[str, Any], timeout_seconds: float = 30
) -> EmitResult:
    headers = {"Authorization": f"Bearer {token}"}
    client_timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        try:
            data = await response.json(content_type=None)
        except json.JSONDecodeError:
            data = {"error": (await response.text())[:500]}
        return EmitResult(response.status, data if isinstance(data, dict) else {"data": data})


def read_manifest(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a manifest is a JSON object")
    return data
