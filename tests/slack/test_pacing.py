"""After Slack says 429 in a channel, that channel keeps to Slack's pace for a while; the
other channels, and the same one later, post as fast as their messages come."""

from __future__ import annotations

from bot.slack.pacing import ChannelPace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_channel_never_throttled_posts_at_once() -> None:
    pace = ChannelPace(monotonic=Clock())
    pace.posted("CFEED")
    assert pace.wait_before_posting("CFEED") == 0.0


def test_after_a_429_the_channel_spaces_its_posts_and_others_do_not_wait() -> None:
    clock = Clock()
    pace = ChannelPace(spacing=1.1, hold=60.0, monotonic=clock)
    pace.throttled("CFEED")
    assert round(pace.wait_before_posting("CFEED"), 3) == 1.1
    assert pace.wait_before_posting("COPS") == 0.0

    clock.now += 1.1
    assert pace.wait_before_posting("CFEED") == 0.0
    pace.posted("CFEED")
    clock.now += 0.5
    assert round(pace.wait_before_posting("CFEED"), 3) == 0.6


def test_a_minute_after_its_last_429_the_channel_is_unpaced_again() -> None:
    clock = Clock()
    pace = ChannelPace(spacing=1.1, hold=60.0, monotonic=clock)
    pace.throttled("CFEED")
    clock.now += 60.0
    pace.posted("CFEED")
    assert pace.wait_before_posting("CFEED") == 0.0
    pace.posted("CFEED")
    assert pace.wait_before_posting("CFEED") == 0.0
