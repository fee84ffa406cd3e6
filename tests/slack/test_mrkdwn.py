"""The domain's text model rendered as Slack mrkdwn: every span as Slack expects, and data
that cannot mention anyone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.text import Code, Emoji, Group, Link, Quote, Span, Strong, User, lines, text
from bot.slack.mrkdwn import escape_mrkdwn, render


@pytest.mark.parametrize(
    ("span", "mrkdwn"),
    [
        ("fix 5xx > 2% & <retry>", "fix 5xx &gt; 2% &amp; &lt;retry&gt;"),
        (User("U0OWNER"), "<@U0OWNER>"),
        (Group("S0BILLING"), "<!subteam^S0BILLING>"),
        (Code("/deploy promote webapp"), "`/deploy promote webapp`"),
        (Code("rm `x` <y>"), "`rm 'x' &lt;y&gt;`"),
        (Strong("HighErrorRate"), "*HighErrorRate*"),
        (
            Link("https://prom.example.com/graph?g0.expr=x&g0.tab=1", "alert source"),
            "<https://prom.example.com/graph?g0.expr=x&amp;g0.tab=1|alert source>",
        ),
        (Link("https://x.example.com/a|b", "a <b>"), "<https://x.example.com/a%7Cb|a &lt;b&gt;>"),
        (Emoji("large_blue_circle"), ":large_blue_circle:"),
        (Quote("error ratio is 0.07 & rising"), "> error ratio is 0.07 &amp; rising"),
        (Quote("one\ntwo"), "> one\n> two"),
    ],
)
def test_each_span_renders_as_slack_expects(span: Span, mrkdwn: str) -> None:
    assert render(text(span)) == mrkdwn


def test_a_text_renders_its_spans_in_order() -> None:
    said = text(Emoji("no_entry"), " Only owners of webapp (", User("U1"), ", ", Group("S1"), ")")
    assert render(said) == ":no_entry: Only owners of webapp (<@U1>, <!subteam^S1>)"
    note = lines([text(Emoji("rotating_light"), " ", Strong("Down")), text(Quote("<!here>"))])
    assert render(note) == ":rotating_light: *Down*\n> &lt;!here&gt;"


def test_escape_turns_control_sequences_into_text() -> None:
    assert escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


@given(st.text())
def test_escaped_text_never_contains_a_raw_angle_bracket(data: str) -> None:
    escaped = escape_mrkdwn(data)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == data


HOSTILE = st.text() | st.sampled_from(["<!channel>", "<@U1>", "<!subteam^S1>", "a & b", "<x|y>"])


@given(HOSTILE)
def test_data_in_any_span_cannot_mention_anyone(data: str) -> None:
    rendered = render(text(data, Code(data), Strong(data)))
    assert "<" not in rendered and ">" not in rendered
    quoted = render(text(Quote(data)))
    assert "<" not in quoted and ">" not in re.sub(r"(?m)^> ", "", quoted)
    link = render(text(Link("https://example.com/" + data, data)))
    assert link.startswith("<https://example.com/") and link.endswith(">")
    assert link.count("<") == link.count(">") == 1
