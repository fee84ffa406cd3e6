"""Slack's per-channel posting limit, for the stand-in (``FakeSlack.limit_posts_per_channel``).

``chat.postMessage`` is in Slack's special rate-limit tier: about one message per second per
channel, short bursts tolerated, beyond that HTTP 429 ``{"ok": false, "error": "ratelimited"}``
with a ``Retry-After`` header in whole seconds. Each channel has its own allowance, so one
busy channel never slows another. ``chat.update`` is an ordinary tier-3 method (50+ a minute
per workspace), not limited per channel, so it is not limited here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ChannelPostLimit:
    """A token bucket per channel: `burst` posts at once, refilled at `per_second`."""

    per_second: float = 1.0
    burst: int = 1
    clock: Callable[[], float] = time.monotonic
    throttled: list[tuple[str, float]] = field(default_factory=list)  # (channel, when) of 429s
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("per_second must be above 0 and burst at least 1")

    def retry_after(self, channel: str) -> int | None:
        """None when a post to `channel` is allowed now (and counts it), else the whole
        seconds Slack would ask the caller to wait."""
        now = self.clock()
        tokens, then = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        self.throttled.append((channel, now))
        return max(1, math.ceil((1.0 - tokens) / self.per_second))
