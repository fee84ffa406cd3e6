"""The DM a person opted in to when a release of theirs ships or fails (pure Block Kit)."""

from __future__ import annotations

from typing import Any

from bot.domain.release.lifecycle import EventType
from bot.domain.text import display_version
from bot.slack.layout import section
from bot.slack.mrkdwn import escape_mrkdwn
from bot.store.dms import ReleaseNews


def dm_message(news: ReleaseNews) -> dict[str, Any]:
    what = f"{news.service} {news.env} {display_version(news.version)} ({news.release_id})"
    if news.event is EventType.FAILED:
        why = f": {news.symptom}" if news.symptom else ""
        plain = f"{what} failed{why}"
        said = f":warning: `{escape_mrkdwn(what)}` failed{escape_mrkdwn(why)}"
    else:
        plain = f"{what} shipped"
        said = f":rocket: `{escape_mrkdwn(what)}` shipped"
    return {"text": plain, "blocks": [section(said + " — its thread is in the release feed.")]}
