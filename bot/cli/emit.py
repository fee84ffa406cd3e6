"""`herald emit`: the CI client that posts manifests and lifecycle events to Herald."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any, NamedTuple


class EmitResult(NamedTuple):  # not a dataclass: `dataclasses` costs herald emit ~10 ms
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


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy, as before
_HEADERS = {"Content-Type": "application/json", "User-Agent": "herald-emit"}


def post_json(
    *, url: str, token: str, body: dict[str, Any], timeout_seconds: float = 30
) -> EmitResult:
    """POST `body` as JSON with the bearer token; the answer, whatever its status."""
    return send(url=url, token=token, body=body, timeout_seconds=timeout_seconds)


def get_json(*, url: str, token: str, timeout_seconds: float = 30) -> EmitResult:
    """GET `url` with the bearer token; the answer, whatever its status."""
    return send(url=url, token=token, body=None, timeout_seconds=timeout_seconds)


def send(
    *, url: str, token: str, body: dict[str, Any] | None, timeout_seconds: float
) -> EmitResult:
    """POST `body` (GET when None) with the bearer token; the answer, whatever its status.

    The standard library's client, not aiohttp: `herald emit` runs once per CI step, and
    importing aiohttp alone took longer than the whole command takes now. No proxy from the
    environment, as with aiohttp. A refused connection or a timeout (per socket operation)
    is an OSError, an unusable URL a ValueError: `herald emit` exits 2 on either."""
    if not url.startswith(("http://", "https://")):  # urllib would also open file:// and ftp://
        raise ValueError(f"HERALD_URL must be an http(s) URL, got {url!r}")
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={**_HEADERS, "Authorization": f"Bearer {token}"},
        method="GET" if body is None else "POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            return _result(response.status, response.read(), response.headers)
    except urllib.error.HTTPError as error:  # 4xx and 5xx: the server's own answer
        with error:
            return _result(error.code, error.read(), error.headers)
    except urllib.error.URLError as exc:  # refused, unknown host, timed out connecting
        raise OSError(f"cannot reach {url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise OSError(f"{url}: no answer within {timeout_seconds:g} s") from exc
    except http.client.HTTPException as exc:  # not HTTP at all, or cut off mid-answer
        raise OSError(f"{url}: {type(exc).__name__}: {exc}") from exc


def _result(status: int, raw: bytes, headers: Message) -> EmitResult:
    text = raw.decode(headers.get_content_charset() or "utf-8", errors="replace")
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        data = {"error": text[:500]}
    return EmitResult(status, data if isinstance(data, dict) else {"data": data})


def read_manifest(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a manifest is a JSON object")
    return data
