"""The PromQL subset's parser: tokens, recursive descent, and Prometheus's ``bad_data``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from standins.prometheus.syntax import (
    Aggregate,
    Binary,
    Call,
    Matcher,
    Node,
    Num,
    Selector,
    kind_of,
)

AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count"})
FUNCTIONS = frozenset({"rate", "increase", "histogram_quantile", "vector"})
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class BadData(Exception):
    """Prometheus's ``bad_data``: a parameter or the query is invalid (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![\w.:])
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?:[Ii]nf|NaN)(?![\w:]))
    |(?P<ident>[A-Za-z_:][\w:]*)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>=~|!~|!=|[-+*/%(){}\[\],=])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


class _ParseError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos, self.message = pos, message


def parse_duration(text: str) -> float:
    """``"780s"``, ``"1h30m"``, ``"500ms"`` in seconds; ValueError if not a duration."""
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * UNITS[u] for n, u in parts)


def _tokens(text: str) -> list[_Token]:
    found, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _ParseError(pos, f"unexpected character: {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            found.append(_Token(kind, match.group(kind), pos))
        pos = match.end()
    return found


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), token[1:-1])


class _Parser:
    """Recursive descent over the PromQL subset above; errors carry the character offset."""

    PRECEDENCE: Mapping[str, int] = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2}

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokens(text)
        self._i = 0

    def parse(self) -> Node:
        if not self._tokens:
            raise _ParseError(0, "no expression found in input")
        node = self._expr(0)
        if (extra := self._peek()) is not None:
            raise _ParseError(extra.pos, f"unexpected {self._describe(extra)}")
        return node

    def _peek(self, text: str | None = None) -> _Token | None:
        token = self._tokens[self._i] if self._i < len(self._tokens) else None
        if token is None or (text is not None and token.text != text):
            return None
        return token

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise _ParseError(len(self._text), "unexpected end of input")
        self._i += 1
        return token

    def _expect(self, text: str, where: str) -> _Token:
        token = self._next()
        if token.text != text:
            raise _ParseError(token.pos, f"unexpected {self._describe(token)} {where}")
        return token

    @staticmethod
    def _describe(token: _Token) -> str:
        names = {"ident": "identifier", "number": "number", "string": "string"}
        return f'{names.get(token.kind, "character")} "{token.text}"'

    def _expr(self, min_precedence: int) -> Node:
        lhs = self._unary()
        while (token := self._peek()) is not None and token.kind == "op":
            precedence = self.PRECEDENCE.get(token.text)
            if precedence is None or precedence < min_precedence:
                break
            self._next()
            rhs = self._expr(precedence + 1)
            if "matrix" in (kind_of(lhs), kind_of(rhs)):
                raise _ParseError(
                    token.pos, "binary expression must contain only scalar and instant vector types"
                )
            lhs = Binary(token.text, lhs, rhs)
        return lhs

    def _unary(self) -> Node:
        if (token := self._peek()) is not None and token.text in ("+", "-"):
            self._next()
            operand = self._unary()
            return operand if token.text == "+" else Binary("*", Num(-1.0), operand)
        return self._primary()

    def _primary(self) -> Node:
        token = self._next()
        if token.kind == "number":
            return Num(float(token.text))
        if token.text == "(":
            inner = self._expr(0)
            self._expect(")", "in parenthesized expression")
            return inner
        if token.text == "{":
            return self._selector(None, token)
        if token.kind != "ident":
            raise _ParseError(token.pos, f"unexpected {self._describe(token)}")
        if token.text in AGGREGATIONS:
            return self._aggregate(token)
        if self._peek("(") is not None:
            return self._call(token)
        return self._selector(token.text, None)

    def _grouping(self) -> tuple[str, ...]:
        self._expect("(", "in grouping opts")
        names: list[str] = []
        while self._peek(")") is None:
            token = self._next()
            if token.kind != "ident":
                raise _ParseError(token.pos, f"unexpected {self._describe(token)} in grouping opts")
            names.append(token.text)
            if self._peek(",") is None:
                break
            self._next()
        self._expect(")", "in grouping opts")
        return tuple(names)

    def _aggregate(self, op: _Token) -> Node:
        grouping, without = None, False
        if (mod := self._peek()) is not None and mod.text in ("by", "without"):
            self._next()
            grouping, without = self._grouping(), mod.text == "without"
        self._expect("(", f"in aggregation {op.text}")
        arg = self._expr(0)
        self._expect(")", f"in aggregation {op.text}")
        if grouping is None and (mod := self._peek()) is not None and mod.text in ("by", "without"):
            self._next()
            grouping, without = self._grouping(), mod.text == "without"
        if kind_of(arg) != "vector":
            raise _ParseError(
                op.pos, f"expected type instant vector in aggregation expression, got {_name(arg)}"
            )
        return Aggregate(op.text, arg, grouping, without)

    def _call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            raise _ParseError(name.pos, f'unknown function with name "{name.text}"')
        self._expect("(", "in call")
        args: list[Node] = []
        while self._peek(")") is None:
            args.append(self._expr(0))
            if self._peek(",") is None:
                break
            self._next()
        self._expect(")", f'in call to function "{name.text}"')
        wanted = {
            "rate": ("matrix",),
            "increase": ("matrix",),
            "histogram_quantile": ("scalar", "vector"),
            "vector": ("scalar",),
        }[name.text]
        if len(args) != len(wanted):
            raise _ParseError(
                name.pos,
                f'expected {len(wanted)} argument(s) in call to "{name.text}", got {len(args)}',
            )
        for arg, kind in zip(args, wanted, strict=True):
            if kind_of(arg) != kind:
                label = {"matrix": "range vector", "vector": "instant vector"}.get(kind, kind)
                raise _ParseError(
                    name.pos,
                    f'expected type {label} in call to function "{name.text}", got {_name(arg)}',
                )
        return Call(name.text, tuple(args))

    def _selector(self, metric: str | None, brace: _Token | None) -> Node:
        at = brace.pos if brace is not None else self._tokens[self._i - 1].pos
        matchers = [Matcher("__name__", "=", metric)] if metric else []
        if brace is not None or self._peek("{") is not None:
            if brace is None:
                self._next()
            matchers += self._matchers()
        if not any(m.op in ("=", "=~") and m.value for m in matchers):
            raise _ParseError(at, "vector selector must contain at least one non-empty matcher")
        range_seconds = None
        if self._peek("[") is not None:
            self._next()
            token = self._next()
            if token.kind != "duration":
                raise _ParseError(token.pos, f"unexpected {self._describe(token)} in range")
            range_seconds = parse_duration(token.text)
            self._expect("]", "in range")
        return Selector(tuple(matchers), range_seconds)

    def _matchers(self) -> list[Matcher]:
        found: list[Matcher] = []
        while self._peek("}") is None:
            name = self._next()
            if name.kind != "ident":
                raise _ParseError(name.pos, f"unexpected {self._describe(name)} inside braces")
            op = self._next()
            if op.text not in ("=", "!=", "=~", "!~"):
                raise _ParseError(op.pos, f"unexpected {self._describe(op)} inside braces")
            value = self._next()
            if value.kind != "string":
                raise _ParseError(value.pos, f"unexpected {self._describe(value)} inside braces")
            text = _unquote(value.text)
            pattern = None
            if op.text in ("=~", "!~"):
                try:
                    pattern = re.compile(text)
                except re.error as e:
                    raise _ParseError(value.pos, f"error parsing regexp: {e}") from None
            found.append(Matcher(name.text, op.text, text, pattern))
            if self._peek(",") is None:
                break
            self._next()
        token = self._next()
        if token.text != "}":
            raise _ParseError(token.pos, f"unexpected {self._describe(token)} inside braces")
        return found


def _name(node: Node) -> str:
    return {"matrix": "range vector", "vector": "instant vector"}.get(kind_of(node), "scalar")


def parse(query: str) -> Node:
    """The query's syntax tree; BadData with Prometheus's ``line:col: parse error``."""
    try:
        return _Parser(query).parse()
    except _ParseError as e:
        line = query.count("\n", 0, e.pos) + 1
        column = e.pos - (query.rfind("\n", 0, e.pos) + 1) + 1
        said = f"{line}:{column}: parse error: {e.message}"
        raise BadData(f'invalid parameter "query": {said}') from None
