from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.text import (
    EMPTY,
    Channel,
    Code,
    Emoji,
    Group,
    Link,
    Quote,
    Strong,
    Text,
    User,
    display_version,
    format_duration,
    join,
    lines,
    text,
    truncate,
)


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


@given(st.text(), st.integers(min_value=1, max_value=500))
def test_truncate_respects_the_limit(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith("…")


def test_a_text_reads_the_same_however_it_was_put_together() -> None:
    assert text("Done by ", User("U1"), ".") == text("Done ", "by ", "", User("U1")) + "."
    assert "Done by " + text(User("U1"), ".") == text("Done by ", User("U1"), ".")
    assert text(text("a", Code("b")), "c").spans == ("a", Code("b"), "c")
    assert join(", ", [User("U1"), User("U2")]) == text(User("U1"), ", ", User("U2"))
    assert lines(["one", text(Strong("two"))]) == text("one\n", Strong("two"))
    assert join(", ", []) == EMPTY == Text() == text("")


def test_an_empty_text_is_false() -> None:
    assert not EMPTY and not text("", "")
    assert text(" ") and text(Emoji("warning"))


def test_plain_text_has_no_markup() -> None:
    said = text(
        Emoji("warning"),
        " ",
        User("U1"),
        " and ",
        Group("S1"),
        " in ",
        Channel("C1"),
        ": ",
        Code("/deploy promote"),
        " is ",
        Strong("red"),
        ", see ",
        Link("https://grafana.example.com/d/1", "the dashboard"),
        "\n",
        Quote("5xx above 2%"),
    )
    assert said.plain() == (
        ":warning: @U1 and @group S1 in #C1: /deploy promote is red, see the dashboard "
        "(https://grafana.example.com/d/1)\n“5xx above 2%”"
    )


@given(st.text())
def test_a_string_is_data_and_plain_text_keeps_it_as_is(data: str) -> None:
    assert text(data).plain() == data
