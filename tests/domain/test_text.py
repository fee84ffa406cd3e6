from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.text import display_version, escape_mrkdwn, format_duration, truncate


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (42, "42s"),
        (60, "1m"),
        (90, "1m 30s"),
        (1500, "25m"),
        (5400, "1h 30m"),
        (28800, "8h"),
        (93784, "1d 2h"),
        (86400 * 3 + 59, "3d"),
    ],
)
def test_format_duration_shows_the_two_largest_units(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_display_version_prefixes_bare_versions_only() -> None:
    assert display_version("1.42.0") == "v1.42.0"
    assert display_version("v1.42.0") == "v1.42.0"
    assert display_version("main-9f4c2b1") == "main-9f4c2b1"


def test_escape_turns_control_sequences_into_text() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


@given(st.text())
def test_escaped_text_never_contains_a_raw_angle_bracket(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@given(st.text(), st.integers(min_value=1, max_value=500))
def test_truncate_respects_the_limit(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith("…")
