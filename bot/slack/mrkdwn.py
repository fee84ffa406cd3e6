"""`Text` → Slack mrkdwn: the one place the domain's text model becomes Slack markup.

Data is escaped (exactly `&`, `<`, `>`, as Slack asks), so no string from a manifest, a
webhook or a user can mention anyone or link anywhere; only `User`, `Group`, `Channel` and
`Link` spans write Slack's control sequences.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.text import Channel, Code, Emoji, Group, Link, Quote, Span, Strong, Text, User

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(text: str) -> str:
    """Escape exactly the three characters Slack asks for, so data cannot mention anyone."""
    return text.translate(_ESCAPES)


def render(text: Text) -> str:
    """The mrkdwn of `text`."""
    return "".join(_render(span) for span in text.spans)


def _render(span: Span) -> str:
    match span:
        case str():
            return escape_mrkdwn(span)
        case User(id=user):
            return f"<@{escape_mrkdwn(user)}>"
        case Group(id=group):
            return f"<!subteam^{escape_mrkdwn(group)}>"
        case Channel(id=channel):
            return f"<#{escape_mrkdwn(channel)}>"
        case Code(text=words):
            return "`" + escape_mrkdwn(words.replace("`", "'")) + "`"
        case Strong(text=words):
            return f"*{escape_mrkdwn(words)}*"
        case Link(url=url, label=label):
            return f"<{escape_mrkdwn(url).replace('|', '%7C')}|{escape_mrkdwn(label)}>"
        case Emoji(name=name):
            return f":{name}:"
        case Quote(text=words):
            return "\n".join(f"> {escape_mrkdwn(line)}" for line in words.split("\n"))


def local_time(at: datetime) -> str:
    """`at` in each reader's own time zone (Slack's date formatting), UTC as the fallback."""
    utc = at.astimezone(UTC)
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{utc:%Y-%m-%d %H:%M} UTC>"
