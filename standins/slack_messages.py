"""Records, message store helpers and wire rendering for the fake Slack Web API."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

TEAM_ID = "T0HERALD"
TEAM_DOMAIN = "herald-test"
BOT_USER_ID = "UHERALD"
BOT_ID = "BHERALD"
APP_ID = "AHERALD"
DEFAULT_TS_BASE = 1_700_000_000
JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")


@dataclass
class SlackCall:
    method: str  # e.g. "chat.postMessage"
    body: dict[str, Any]  # parsed args: JSON body, form body and query params merged
    token: str | None
    at: float  # time.monotonic() when received
    ok: bool  # what the fake answered


@dataclass
class SlackEdit:
    """One ``chat.update`` of a message: its time and what the message showed after it."""

    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    metadata: dict[str, Any] | None  # {"event_type": ..., "event_payload": {...}}
    user: str  # the bot user id ("UHERALD") unless injected by a test
    reply_broadcast: bool = False
    edits: list[SlackEdit] = field(default_factory=list)  # every chat.update, oldest first

    @property
    def edited_ts(self) -> str | None:
        """When the message was last edited, as Slack's ``edited.ts``."""
        return self.edits[-1].ts if self.edits else None


class SlackError(Exception):
    """A Slack ``{"ok": false, "error": ...}`` answer (HTTP 200)."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def make_ts(n: int, base: int = DEFAULT_TS_BASE) -> str:
    """The n-th message timestamp: ``1700000000.000100``, ``1700000000.000200``, ..."""
    micros = n * 100
    return f"{base + micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_value(ts: object, error: str) -> Decimal:
    try:
        value = Decimal(str(ts))
    except InvalidOperation:
        raise SlackError(error) from None
    if not value.is_finite():
        raise SlackError(error)
    return value


def truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def decode_json_fields(args: dict[str, Any]) -> dict[str, Any]:
    """Form bodies carry blocks/metadata/view as JSON strings; decode those that parse."""
    out = dict(args)
    for key in JSON_FIELDS:
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except ValueError:
                continue
    return out


def permalink(channel: str, ts: str, thread_ts: str | None) -> str:
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts is not None and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def render(
    msg: SlackMessage,
    *,
    replies: Sequence[SlackMessage] = (),
    parent_user: str | None = None,
    with_metadata: bool = True,
) -> dict[str, Any]:
    """A message as Slack's Web API shows it."""
    out: dict[str, Any] = {"type": "message", "user": msg.user, "text": msg.text, "ts": msg.ts}
    if msg.user == BOT_USER_ID:
        out.update(bot_id=BOT_ID, app_id=APP_ID)
    out["team"] = TEAM_ID
    if msg.blocks:
        out["blocks"] = msg.blocks
    if msg.thread_ts is not None:
        out["thread_ts"] = msg.thread_ts
        if parent_user is not None:
            out["parent_user_id"] = parent_user
        if msg.reply_broadcast:
            out["subtype"] = "thread_broadcast"
    elif replies:
        users = sorted({r.user for r in replies})
        out.update(
            thread_ts=msg.ts,
            reply_count=len(replies),
            reply_users=users,
            reply_users_count=len(users),
            latest_reply=replies[-1].ts,
        )
    if msg.edited_ts is not None:
        out["edited"] = {"user": msg.user, "ts": msg.edited_ts}
    if with_metadata and msg.metadata is not None:
        out["metadata"] = msg.metadata
    return out


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def decode_cursor(cursor: object) -> Decimal | None:
    if cursor in (None, ""):
        return None
    try:
        raw = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix, _, ts = raw.partition(":")
    if prefix != "next_ts":
        raise SlackError("invalid_cursor")
    return ts_value(ts, "invalid_cursor")


def parse_limit(value: object, default: int = 100, maximum: int = 999) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(str(value))
    except ValueError:
        raise SlackError("invalid_limit") from None
    return default if limit <= 0 else min(limit, maximum)


def paginate(
    items: list[SlackMessage], *, limit: int, cursor: object, newest_first: bool
) -> tuple[list[SlackMessage], str]:
    """One page of ``items`` (already in answer order) and the next cursor ('' when done)."""
    start = decode_cursor(cursor)
    if start is not None:
        if newest_first:
            items = [m for m in items if Decimal(m.ts) <= start]
        else:
            items = [m for m in items if Decimal(m.ts) >= start]
    page, rest = items[:limit], items[limit:]
    return page, encode_cursor(rest[0].ts) if rest else ""
