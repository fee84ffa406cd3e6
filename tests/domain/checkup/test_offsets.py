"""Checkup offsets: the catalogue accepts exactly those the verdict rules can judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.checkup.metrics import SUSTAIN, windows_for
from bot.domain.checkup.offsets import LONGEST_OFFSET, SHORTEST_OFFSET, offset_problem

SECOND = timedelta(seconds=1)


def test_the_shortest_offset_is_the_warm_up_plus_the_sustain_window() -> None:
    assert timedelta(minutes=7) == SHORTEST_OFFSET
    assert offset_problem(SHORTEST_OFFSET) is None
    assert offset_problem(SHORTEST_OFFSET - SECOND) == (
        "6m 59s is too early to judge: the verdict leaves out 2m of warm-up and needs a 5m "
        "sustain window, so the shortest checkup offset is 7m"
    )


def test_the_longest_offset_keeps_the_week_earlier_baseline_in_retention() -> None:
    assert offset_problem(LONGEST_OFFSET) is None
    assert offset_problem(LONGEST_OFFSET + timedelta(hours=1)) == (
        "7d 1h is too late to judge: its week-earlier baseline would lie outside Prometheus' "
        "default 15-day retention; the longest checkup offset is 7d"
    )


@pytest.mark.parametrize("seconds", [0, 1, 7, 14, 29, 59])
def test_every_accepted_offset_has_windows_even_for_a_release_off_the_grid(seconds: int) -> None:
    release_end = datetime(2026, 12, 2, 9, 0, seconds, tzinfo=UTC)
    for offset in (SHORTEST_OFFSET, timedelta(minutes=15), LONGEST_OFFSET):
        windows = windows_for(release_end, offset)
        assert windows.post.start >= release_end + timedelta(minutes=2)
        assert windows.post.end <= release_end + offset
        assert windows.sustain.duration == SUSTAIN
