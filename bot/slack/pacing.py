"""Keeping to Slack's pace in a channel once Slack has said "too fast" there.

Slack lets a bot post about one message per second in a channel, with short bursts over it,
and answers 429 with `Retry-After` beyond that. Waiting out the `Retry-After` and then
sending the channel's queue as fast as it goes earns a 429 for nearly every message after
it: each one a wasted call, a write to the outbox and a second's wait. So after a 429 a
channel's sender spaces its posts `SPACING` apart for `HOLD`; a channel Slack never pushed
back on posts as fast as its messages come.

This is the sender's own timing. The pace itself is kept in the database too
(bot/store/channel_paces.py), so that another replica posting to the same channel keeps it:
Slack's limit is the channel's, not a process's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SPACING = 1.1  # seconds between posts: Slack's one a second, and a margin for clock drift
HOLD = 60.0  # seconds a channel keeps to that pace after its last 429


class ChannelPace:
    def __init__(
        self,
        *,
        spacing: float = SPACING,
        hold: float = HOLD,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spacing = spacing
        self._hold = hold
        self._monotonic = monotonic
        self._until: dict[str, float] = {}  # channel → when its pace ends
        self._last: dict[str, float] = {}  # channel → its last post, while paced

    def throttled(self, channel: str) -> None:
        """Slack answered 429 in `channel`: keep to its pace from now on, for a while."""
        now = self._monotonic()
        self._until[channel] = now + self._hold
        self._last[channel] = now

    def posted(self, channel: str) -> None:
        if channel in self._until:
            self._last[channel] = self._monotonic()

    def wait_before_posting(self, channel: str) -> float:
        """Seconds until the channel's next post may go: 0 unless it is paced."""
        until = self._until.get(channel)
        if until is None:
            return 0.0
        now = self._monotonic()
        if now >= until:
            del self._until[channel], self._last[channel]
            return 0.0
        return max(0.0, self._last[channel] + self._spacing - now)
