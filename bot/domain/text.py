"""What Herald says, as data: a `Text` of spans (plain words, people, groups, code, links…),
and the small formatting helpers every message shares. Pure.

A `str` span is always data, never markup: the Slack adapter (`bot/slack/mrkdwn.py`) escapes
it, and turns the other spans into Slack's markup. `plain()` is the same text without any
markup, for logs and the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class User:
    """A Slack user, by id (`U0123`): a mention."""

    id: str


@dataclass(frozen=True)
class Group:
    """A Slack user group, by id (`S0123`): a group mention."""

    id: str


@dataclass(frozen=True)
class Channel:
    """A Slack channel, by id (`C0123`): a link to it."""

    id: str


@dataclass(frozen=True)
class Code:
    """A command, a name or user input shown verbatim."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Words in bold."""

    text: str


@dataclass(frozen=True)
class Link:
    """`label`, linking to `url`."""

    url: str
    label: str


@dataclass(frozen=True)
class Emoji:
    """An emoji by its short name (`warning`), without colons."""

    name: str


@dataclass(frozen=True)
class Quote:
    """A quoted line; it starts a line of its own."""

    text: str


Span = str | User | Group | Channel | Code | Strong | Link | Emoji | Quote


@dataclass(frozen=True)
class Text:
    """A sequence of spans; adjacent strings are merged and empty ones dropped, so two texts
    that read the same are equal."""

    spans: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        merged: list[Span] = []
        for span in self.spans:
            last = merged[-1] if merged else None
            if isinstance(span, str) and isinstance(last, str):
                merged[-1] = last + span
            elif span != "":
                merged.append(span)
        object.__setattr__(self, "spans", tuple(merged))

    def __add__(self, other: Text | Span) -> Text:
        return text(self, other)

    def __radd__(self, other: Span) -> Text:
        return text(other, self)

    def __bool__(self) -> bool:
        return bool(self.spans)

    def plain(self) -> str:
        """The text without markup: `@U123`, `@group S1`, `#C1`, code and bold as their words,
        `label (url)`, `:name:` for an emoji, a quote in quotation marks."""
        return "".join(_plain(span) for span in self.spans)


EMPTY = Text()


def text(*parts: Text | Span) -> Text:
    """One text of `parts`, in order: `text("Done by ", User(holder), ".")`."""
    spans: list[Span] = []
    for part in parts:
        spans.extend(part.spans if isinstance(part, Text) else (part,))
    return Text(tuple(spans))


def join(separator: Text | Span, parts: Iterable[Text | Span]) -> Text:
    """`parts` with `separator` between each two, as `str.join`."""
    joined: list[Text | Span] = []
    for part in parts:
        if joined:
            joined.append(separator)
        joined.append(part)
    return text(*joined)


def lines(parts: Iterable[Text | Span]) -> Text:
    """`parts`, one per line."""
    return join("\n", parts)


def _plain(span: Span) -> str:
    match span:
        case str():
            return span
        case User(id=user):
            return f"@{user}"
        case Group(id=group):
            return f"@group {group}"
        case Channel(id=channel):
            return f"#{channel}"
        case Code(text=words) | Strong(text=words):
            return words
        case Link(url=url, label=label):
            return f"{label} ({url})"
        case Emoji(name=name):
            return f":{name}:"
        case Quote(text=words):
            return f"“{words}”"


def display_version(version: str) -> str:
    """`1.42.0` → `v1.42.0`; a version that is not bare (`v2`, `main-9f4c`) is kept as is."""
    return f"v{version}" if version[:1].isdigit() else version


def format_duration(seconds: float) -> str:
    """28800 → `8h`, 5400 → `1h 30m`, 93784 → `1d 2h`, 42 → `42s`: the two largest units."""
    total = max(0, round(seconds))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for suffix, size in units:
        amount, total = divmod(total, size)
        if amount or (parts and len(parts) < 2):
            parts.append(f"{amount}{suffix}")
        if len(parts) == 2:
            break
    parts = [p for p in parts if not p.startswith("0")] or ["0s"]
    return " ".join(parts)


DURATION = re.compile(r"^(\d+)(s|m|h|d)$")  # `15m`, `2h`, `3d`: the catalogue's and commands'
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`15m` → 15 minutes (s, m, h, d): the one parser for the durations Herald takes."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def utc_stamp(at: datetime) -> str:
    """`2026-12-24 17:00 UTC`: an instant as the domain writes it, whatever its offset."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"
