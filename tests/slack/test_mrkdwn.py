"""The domain's text model rendered as Slack mrkdwn: every span as Slack expects, data that
cannot mention anyone, and a domain that writes no Slack markup of its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.text import (
    Channel,
    Code,
    Emoji,
    Group,
    Link,
    Quote,
    Span,
    Strong,
    User,
    lines,
    text,
)
from bot.slack.mrkdwn import escape_mrkdwn, render

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


@pytest.mark.parametrize(
    ("span", "mrkdwn"),
    [
        ("fix 5xx > 2% & <retry>", "fix 5xx &gt; 2% &amp; &lt;retry&gt;"),
        (User("U0OWNER"), "<@U0OWNER>"),
        (Group("S0BILLING"), "<!subteam^S0BILLING>"),
        (Channel("C0FEED"), "<#C0FEED>"),
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


# -- the domain writes no Slack markup ------------------------------------------------------

MARKUP = {
    "a mention": re.compile(r"<[@!#]"),
    "a link": re.compile(r"<(?:https?|mailto):|<[^\s<>|]+\|[^<>]*>"),
    "a code span": re.compile(r"`[^`\n]+`"),
    "bold": re.compile(r"(?<![*\w])\*[^\s*][^*\n]*\*(?![*\w])"),
    "an emoji code": re.compile(r"(?<![\w:]):[a-z0-9][a-z0-9_+-]*:(?![\w:])"),
    "a quote": re.compile(r"(?:^|\n)> "),
}


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _string_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """Every string literal but docstrings; an f-string with `{}` for each placeholder."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(part) for part in node.values}
    literals = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [p.value if isinstance(p, ast.Constant) else "{}" for p in node.values]
            literals.append((node.lineno, "".join(map(str, parts))))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.append((node.lineno, node.value))
    return literals


def markup_in(source: str) -> list[str]:
    return [
        f"{line}: {what} in {literal!r}"
        for line, literal in _string_literals(ast.parse(source))
        for what, pattern in MARKUP.items()
        if pattern.search(literal)
    ]


def test_the_guard_finds_each_kind_of_markup() -> None:
    source = '''
"""A docstring may say `code`, *bold* and <@U1>."""
a = f"<@{user}> took command"
b = f"<!subteam^{group}>"
c = "Roll `webapp` back"
d = f"*{name}* | severity: {severity}"
e = ":warning: nope"
f = f"<{url}|alert source>"
g = f"> {quoted}"
h = "<https://example.com>"
ok = ("herald:rel:" + f"promote:{app}:{generation}", "**BREAKING:**", "5 * 3 * 2", "a -> b")
'''
    found = markup_in(source)
    assert [f.split(":")[0] for f in found] == ["3", "4", "5", "6", "7", "8", "9", "10"]


def test_the_domain_writes_no_slack_markup_in_its_strings() -> None:
    found = [
        f"{path.relative_to(DOMAIN.parents[1])}:{problem}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for problem in markup_in(path.read_text(encoding="utf-8"))
    ]
    assert found == []
