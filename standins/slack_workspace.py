"""The in-memory workspace behind the fake Slack Web API: messages and method handlers.

Each handler takes the parsed arguments of one Web API call and returns the fields of a
successful answer, or raises ``SlackError`` for Slack's ``{"ok": false, "error": ...}``.
HTTP, authentication and fault injection live in ``standins.slack``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from standins.slack_limits import message_content, message_metadata, validate_home, validate_view
from standins.slack_messages import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    SlackEdit,
    SlackError,
    SlackMessage,
    make_ts,
    paginate,
    parse_limit,
    permalink,
    render,
    truthy,
    ts_value,
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
TRIGGER_TTL = 3.0  # seconds a trigger_id issued by issue_trigger_id() stays valid


class SlackWorkspace:
    """Channels, users, messages, modals and files of one fake Slack workspace."""

    def __init__(
        self,
        *,
        channels: Iterable[str] = ("CFEED", "COPS"),
        users: Iterable[str] = ("U_ONCALL", "U_OWNER", "U_STRANGER"),
        usergroups: Mapping[str, Iterable[str]] | None = None,
        ts_base: int | None = None,
    ) -> None:
        self.channels = set(channels)
        self.users = set(users)
        self.usergroups = {k: list(v) for k, v in (usergroups or {}).items()}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.homes: dict[str, list[dict[str, Any]]] = {}  # user → every Home tab published
        self.files: list[dict[str, Any]] = []  # completed uploads (files.completeUploadExternal)
        self.uploads: dict[str, bytes] = {}  # file_id -> bytes POSTed to the upload URL
        self._messages: list[SlackMessage] = []
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._issued_triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        # Slack's ts is wall-clock time; history searches by time window depend on that.
        self._ts_base = int(time.time()) if ts_base is None else ts_base
        self._seq = 0
        self.handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._get_permalink,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroup_users,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    @property
    def url(self) -> str:
        """Base URL for upload links; the HTTP server overrides it."""
        return "http://127.0.0.1"

    @property
    def methods(self) -> frozenset[str]:
        """The Web API methods this fake implements."""
        return frozenset(self.handlers)

    # -- inspection ------------------------------------------------------------------------

    def messages(self, channel: str) -> list[SlackMessage]:
        return [m for m in self._messages if m.channel == channel]

    def posted(self, channel: str) -> list[SlackMessage]:
        return [m for m in self.messages(channel) if m.thread_ts is None]

    def replies(self, channel: str, thread_ts: str) -> list[SlackMessage]:
        return [m for m in self.messages(channel) if m.thread_ts == thread_ts and m.ts != thread_ts]

    # -- test set-up -----------------------------------------------------------------------

    def inject_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U_OWNER",
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SlackMessage:
        """Store a message as if someone else (a human by default) had posted it."""
        msg = SlackMessage(channel, self._next_ts(), text, blocks or [], thread_ts, metadata, user)
        self._messages.append(msg)
        return msg

    def issue_trigger_id(self) -> str:
        """A trigger_id that expires after 3 s (unknown trigger_ids never expire)."""
        trigger = f"{self._next_seq()}.{TEAM_ID}.herald"
        self._issued_triggers[trigger] = time.monotonic()
        return trigger

    @staticmethod
    def dm_channel(user: str) -> str:
        """The DM channel id the fake uses when a method is called with ``channel=<user>``."""
        return "D" + user.removeprefix("U")

    # -- shared argument checks --------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _next_ts(self) -> str:
        return make_ts(self._next_seq(), self._ts_base)

    def _channel(
        self, args: dict[str, Any], key: str = "channel", *, dm_by_user: bool = True
    ) -> str:
        """The channel a call names; a user id names the DM with that user where the method
        allows it (``chat.update`` wants the DM's own id)."""
        channel = args.get(key)
        if isinstance(channel, str):
            if channel in self.channels:
                return channel
            if dm_by_user and channel in self.users:
                dm = self.dm_channel(channel)
                self.channels.add(dm)
                return dm
        raise SlackError("channel_not_found")

    def _find(self, channel: str, ts: object) -> SlackMessage | None:
        return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def _render(self, msg: SlackMessage, *, with_metadata: bool = True) -> dict[str, Any]:
        if msg.thread_ts is None:
            replies = self.replies(msg.channel, msg.ts)
            return render(msg, replies=replies, with_metadata=with_metadata)
        parent = self._find(msg.channel, msg.thread_ts)
        user = None if parent is None else parent.user
        return render(msg, parent_user=user, with_metadata=with_metadata)

    # -- methods ---------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Herald Test",
            "user": "herald",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        text, blocks = message_content(args)
        metadata = message_metadata(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        broadcast = thread_ts is not None and truthy(args.get("reply_broadcast"))
        msg = SlackMessage(
            channel, self._next_ts(), text or "", blocks or [], thread_ts, metadata, BOT_USER_ID
        )
        msg.reply_broadcast = broadcast
        self._messages.append(msg)
        return {"channel": channel, "ts": msg.ts, "message": self._render(msg)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Slack's chat.update: what the call leaves out (blocks, metadata) is kept; every
        edit is kept in the message's ``edits``."""
        channel = self._channel(args, dm_by_user=False)
        if not args.get("ts"):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: ts"]},
            )
        msg = self._find(channel, args["ts"])
        if msg is None:
            raise SlackError("message_not_found")
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks = message_content(args)
        metadata = message_metadata(args, clearable=True)
        if text is not None:
            msg.text = text
        if blocks is not None:
            msg.blocks = blocks
        if metadata is not None:
            msg.metadata = metadata or None
        msg.edits.append(SlackEdit(self._next_ts(), msg.text, list(msg.blocks), msg.metadata))
        return {"channel": channel, "ts": msg.ts, "text": msg.text, "message": self._render(msg)}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        user = args.get("user")
        if user not in self.users:
            raise SlackError("user_not_in_channel")
        text, blocks = message_content(args)
        message_ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": text or "",
                "blocks": blocks or [],
                "thread_ts": args.get("thread_ts"),
                "message_ts": message_ts,
            }
        )
        return {"message_ts": message_ts}

    def _get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        msg = self._find(channel, args.get("message_ts"))
        if msg is None:
            raise SlackError("message_not_found")
        return {"channel": channel, "permalink": permalink(channel, msg.ts, msg.thread_ts)}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        oldest = ts_value(args.get("oldest") or "0", "invalid_ts_oldest")
        latest = ts_value(args["latest"], "invalid_ts_latest") if args.get("latest") else None
        inclusive = truthy(args.get("inclusive"))

        def in_range(msg: SlackMessage) -> bool:
            ts = ts_value(msg.ts, "invalid_ts")
            after = ts >= oldest if inclusive else ts > oldest
            before = latest is None or (ts <= latest if inclusive else ts < latest)
            return after and before

        visible = [m for m in self.messages(channel) if m.thread_ts is None or m.reply_broadcast]
        items = [m for m in reversed(visible) if in_range(m)]
        page, cursor = paginate(
            items,
            limit=parse_limit(args.get("limit")),
            cursor=args.get("cursor"),
            newest_first=True,
        )
        with_metadata = truthy(args.get("include_all_metadata"))
        messages = [self._render(m, with_metadata=with_metadata) for m in page]
        return {
            "messages": messages,
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        msg = self._find(channel, args.get("ts"))
        if msg is None:
            raise SlackError("thread_not_found")
        items = [msg] if msg.thread_ts is not None else [msg, *self.replies(channel, msg.ts)]
        page, cursor = paginate(
            items,
            limit=parse_limit(args.get("limit"), 1000, 1000),
            cursor=args.get("cursor"),
            newest_first=False,
        )
        with_metadata = truthy(args.get("include_all_metadata"))
        messages = [self._render(m, with_metadata=with_metadata) for m in page]
        return {
            "messages": messages,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Slack's views.publish: a user's Home tab; `view` may arrive as a JSON string."""
        user, view = args.get("user_id"), args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(user, str) or not user:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: user_id"]},
            )
        if errors := validate_home(view):
            messages = [f"[ERROR] {e}" for e in errors]
            raise SlackError(
                "invalid_arguments", errors=errors, response_metadata={"messages": messages}
            )
        assert isinstance(view, dict)
        published = {**view, "id": f"V{self._next_seq():08d}", "team_id": TEAM_ID}
        self.homes.setdefault(user, []).append(published)
        return {"view": published}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger, view = args.get("trigger_id"), args.get("view")
        if not isinstance(trigger, str) or not trigger:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        if trigger in self._used_triggers:
            raise SlackError("trigger_exchanged")
        issued = self._issued_triggers.get(trigger)
        if issued is not None and time.monotonic() - issued > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        if errors := validate_view(view):
            messages = [f"[ERROR] {e}" for e in errors]
            raise SlackError(
                "invalid_arguments", errors=errors, response_metadata={"messages": messages}
            )
        assert isinstance(view, dict)
        self._used_triggers.add(trigger)
        view_id = f"V{self._next_seq():08d}"
        opened: dict[str, Any] = {
            "team_id": TEAM_ID,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{view_id}",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            **view,
            "id": view_id,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self.views.append(opened)
        return {"view": opened}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup")
        if not isinstance(group, str) or group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = args.get("filename"), args.get("length")
        if not filename or not str(length or "").isdigit():
            raise SlackError("invalid_arguments")
        file_id = f"F{self._next_seq():08d}"
        self._pending_files[file_id] = {"name": str(filename), "length": int(str(length))}
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        channel = self._channel(args, "channel_id") if args.get("channel_id") else None
        done = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(file_id, str) or file_id not in self._pending_files:
                raise SlackError("file_not_found")
            pending = self._pending_files[file_id]
            done.append(
                {
                    "id": file_id,
                    "name": pending["name"],
                    "title": item.get("title") or pending["name"],
                    "size": len(self.uploads.get(file_id, b"")),
                }
            )
        for info in done:
            self.files.append(
                {
                    **info,
                    "channel_id": channel,
                    "thread_ts": args.get("thread_ts"),
                    "initial_comment": args.get("initial_comment"),
                }
            )
        return {"files": done}
