"""A fake Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over real HTTP.

Point ``PrometheusClient(base_url=fake.url)`` (or ``PROMETHEUS_URL``) at it. It parses and
evaluates the PromQL that Herald's default ``ServiceQueries`` templates use: ``sum``, ``min``,
``max``, ``avg`` and ``count`` (optionally ``by``/``without``), ``increase`` and ``rate`` over
a range selector, ``histogram_quantile``, label matchers (``=``, ``!=``, ``=~``, ``!~``) and
arithmetic. It evaluates them against one simulated service for each ``service="…"`` named
in the query. Answers (GET or POST form) use Prometheus's envelope, with numbers as strings.
A query it cannot parse or evaluate gets Prometheus's ``bad_data`` 400. Depends only on
aiohttp and the standard library.

The simulated service matches ``tests/harness/release_metrics.py``, scraped every 15 s:

- 100 requests per step. ``healthy`` (the default) has one 5xx every 5th step (0.2 %);
  ``spike`` has 8 per step (8 %) after its ``release_at``.
- Latency buckets ≤0.1 s: 50 %, ≤0.25 s: 90 %, ≤0.5 s: 98 %, ≤1 s: 100 %, so p95 is
  406 ms and p99 750 ms.
- 0.3 of a 1-CPU limit, every target up, no restarts.

Counters grow by whole steps. ``increase(x[w])`` at ``t`` is the sum over the 15 s steps in
``(t-w, t]``, with no extrapolation; ``rate`` divides that by ``w``. A selector without
``service="…"`` selects nothing: the answer is an empty vector, as for an unknown metric.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from aiohttp import web

from standins.server import LoopbackServer

__all__ = ["PROFILES", "FakePrometheus", "Profile"]

Profile = Literal["healthy", "spike"]
PROFILES: tuple[Profile, ...] = ("healthy", "spike")

STEP = 15.0  # seconds between scrapes
PER_STEP = 100  # requests per step
ERROR_EVERY = 5  # healthy: one 5xx every 5th step
SPIKE = 8  # 5xx per step after a bad release
BUCKETS = (("0.1", 50), ("0.25", 90), ("0.5", 98), ("1", 100), ("+Inf", 100))
CPU_PER_STEP = 4.5  # CPU seconds per step: 0.3 cores
DURATION_SUM_PER_STEP = 20.0
MAX_POINTS = 11_000  # Prometheus's limit per series of a range query
AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count"})
FUNCTIONS = frozenset({"rate", "increase", "histogram_quantile", "vector"})
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
Values = list[float]  # one value per evaluation time
Matrix = dict[Labels, Values]  # an instant vector at every evaluation time


class BadData(Exception):
    """Prometheus's ``bad_data``: a parameter or the query is invalid (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- PromQL: tokens and syntax tree ----------------------------------------------------------

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


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(got) is not None) == (self.op == "=~")
        return (got == self.value) == (self.op == "=")


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]  # the metric name as a __name__ matcher
    range_seconds: float | None = None

    def equal(self, name: str) -> str | None:
        return next((m.value for m in self.matchers if m.name == name and m.op == "="), None)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Aggregate:
    op: str
    arg: Node
    grouping: tuple[str, ...] | None = None  # None: everything in one group
    without: bool = False


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node


Node = Num | Selector | Call | Aggregate | Binary


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


def _kind(node: Node) -> str:
    """ "scalar", "vector" or "matrix" (a range selector)."""
    if isinstance(node, Num):
        return "scalar"
    if isinstance(node, Selector):
        return "vector" if node.range_seconds is None else "matrix"
    if isinstance(node, Binary):
        return "scalar" if _kind(node.lhs) == _kind(node.rhs) == "scalar" else "vector"
    return "vector"


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
            if "matrix" in (_kind(lhs), _kind(rhs)):
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
        if _kind(arg) != "vector":
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
            if _kind(arg) != kind:
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
    return {"matrix": "range vector", "vector": "instant vector"}.get(_kind(node), "scalar")


def parse(query: str) -> Node:
    """The query's syntax tree; BadData with Prometheus's ``line:col: parse error``."""
    try:
        return _Parser(query).parse()
    except _ParseError as e:
        line = query.count("\n", 0, e.pos) + 1
        column = e.pos - (query.rfind("\n", 0, e.pos) + 1) + 1
        said = f"{line}:{column}: parse error: {e.message}"
        raise BadData(f'invalid parameter "query": {said}') from None


def query_kind(node: Node) -> str:
    """Which ServiceQueries template a query looks like ("requests", "p95", ...), or "other"."""
    if isinstance(node, Call) and node.name == "histogram_quantile":
        phi = node.args[0]
        return f"p{phi.value * 100:g}" if isinstance(phi, Num) else "other"
    names = {m.value: s for s in _selectors(node) for m in s.matchers if m.name == "__name__"}
    if "http_requests_total" in names:
        coded = any(m.name == "code" for m in names["http_requests_total"].matchers)
        return "errors" if coded else "requests"
    for metric, kind in (
        ("container_cpu_usage_seconds_total", "saturation"),
        ("up", "health"),
        ("kube_pod_container_status_restarts_total", "restarts"),
    ):
        if metric in names:
            return kind
    return "other"


def _selectors(node: Node) -> Iterator[Selector]:
    if isinstance(node, Selector):
        yield node
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _selectors(arg)
    elif isinstance(node, Aggregate):
        yield from _selectors(node.arg)
    elif isinstance(node, Binary):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)


# -- the simulated service ---------------------------------------------------------------------


def _steps(a: float, b: float, every: float = STEP) -> int:
    """Scrapes (multiples of ``every`` seconds) in ``(a, b]``."""
    return max(0, math.floor(b / every) - math.floor(a / every))


@dataclass(frozen=True)
class _Behaviour:
    profile: Profile = "healthy"
    release_at: float | None = None  # unix seconds

    def errors(self, a: float, b: float) -> float:
        """5xx served in ``(a, b]``."""

        def healthy(lo: float, hi: float) -> int:
            return _steps(lo, hi, STEP * ERROR_EVERY)

        r = self.release_at
        if self.profile == "healthy" or r is None or b <= r:
            return float(healthy(a, b))
        if a >= r:
            return float(SPIKE * _steps(a, b))
        return float(healthy(a, r) + SPIKE * _steps(r, b))


@dataclass(frozen=True)
class _Series:
    labels: Labels  # with __name__
    increase: Callable[[float, float], float] | None = None  # counters: growth in (a, b]
    gauge: float | None = None

    def value(self, t: float) -> float:
        if self.gauge is not None:
            return self.gauge
        assert self.increase is not None
        return self.increase(0.0, t)

    def growth(self, a: float, b: float) -> float:
        return 0.0 if self.increase is None else self.increase(a, b)


def _per_step(amount: float) -> Callable[[float, float], float]:
    return lambda a, b: amount * _steps(a, b)


def _service_series(service: str, env: str, behaviour: _Behaviour) -> dict[str, list[_Series]]:
    """Every series of one service, by metric name."""

    def labels(name: str, **extra: str) -> Labels:
        return tuple(sorted({"__name__": name, "service": service, "env": env, **extra}.items()))

    def ok(a: float, b: float) -> float:
        return PER_STEP * _steps(a, b) - behaviour.errors(a, b)

    http = "http_request_duration_seconds"
    return {
        "http_requests_total": [
            _Series(labels("http_requests_total", code="200"), increase=ok),
            _Series(labels("http_requests_total", code="500"), increase=behaviour.errors),
        ],
        f"{http}_bucket": [
            _Series(labels(f"{http}_bucket", le=le), increase=_per_step(n)) for le, n in BUCKETS
        ],
        f"{http}_count": [_Series(labels(f"{http}_count"), increase=_per_step(PER_STEP))],
        f"{http}_sum": [_Series(labels(f"{http}_sum"), increase=_per_step(DURATION_SUM_PER_STEP))],
        "up": [_Series(labels("up", instance=f"{service}-0:8080", job=service), gauge=1.0)],
        "kube_pod_container_status_restarts_total": [
            _Series(
                labels("kube_pod_container_status_restarts_total", pod=f"{service}-0"),
                increase=_per_step(0.0),
            )
        ],
        "container_cpu_usage_seconds_total": [
            _Series(
                labels("container_cpu_usage_seconds_total", pod=f"{service}-0"),
                increase=_per_step(CPU_PER_STEP),
            )
        ],
        "kube_pod_container_resource_limits": [
            _Series(
                labels("kube_pod_container_resource_limits", pod=f"{service}-0", resource="cpu"),
                gauge=1.0,
            )
        ],
    }


@functools.lru_cache(maxsize=4096)
def _drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


@functools.lru_cache(maxsize=4096)
def _group_key(labels: Labels, grouping: tuple[str, ...] | None, without: bool) -> Labels:
    if grouping is None:
        return ()
    if without:
        return tuple(p for p in _drop_name(labels) if p[0] not in grouping)
    return tuple(p for p in labels if p[0] in grouping)


@functools.lru_cache(maxsize=4096)
def _bucket(labels: Labels) -> tuple[Labels, float] | None:
    """A histogram bucket's labels without ``le`` and its upper bound."""
    le = dict(labels).get("le")
    if le is None:
        return None
    return tuple(p for p in _drop_name(labels) if p[0] != "le"), float(le)


def _quantile(phi: float, bounds: list[float], counts: list[float]) -> float:
    """Prometheus's ``histogram_quantile`` over sorted upper bounds and cumulative counts."""
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    if len(bounds) < 2 or bounds[-1] != math.inf or counts[-1] == 0:
        return math.nan
    rank = phi * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start, below = (0.0, 0.0) if index == 0 else (bounds[index - 1], counts[index - 1])
    return start + (bounds[index] - start) * (rank - below) / (counts[index] - below)


def _aggregate(op: str, values: Sequence[float]) -> float:
    if op == "sum":
        return math.fsum(values)
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    if op == "avg":
        return math.fsum(values) / len(values)
    return float(len(values))


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return a / b
    return math.fmod(a, b) if b != 0 else math.nan


# -- wire format -------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    """Prometheus's sample values: ``"5200"``, ``"0.40625"``, ``"NaN"``, ``"+Inf"``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def _ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _time_ms(params: Mapping[str, str], name: str, default: float | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadData(f'invalid parameter "{name}": cannot parse "" to a valid timestamp')
        return round(default * 1000)
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            said = f'cannot parse "{raw}" to a valid timestamp'
            prefix = f"Invalid time value for '{name}': " if name == "time" else ""
            raise BadData(f'invalid parameter "{name}": {prefix}{said}') from None
    if not math.isfinite(seconds):
        raise BadData(f'invalid parameter "{name}": cannot parse "{raw}" to a valid timestamp')
    return round(seconds * 1000)


def _step_ms(raw: str | None) -> int:
    text = raw or ""
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError:
            said = f'cannot parse "{text}" to a valid duration'
            raise BadData(f'invalid parameter "step": {said}') from None
    if not seconds > 0:
        raise BadData(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    return max(1, round(seconds * 1000))


K = TypeVar("K")
V = TypeVar("V")
CACHED = 2048  # entries per cache: the queries of ~100 checkups in flight, not of every one


def _remember(cache: dict[K, V], key: K, value: V, *, size: int = CACHED) -> V:
    """Store in a bounded cache, forgetting the oldest entry when it is full."""
    if len(cache) >= size:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


# -- the server --------------------------------------------------------------------------------


class FakePrometheus(LoopbackServer):
    """``/api/v1/query`` and ``/api/v1/query_range`` on ``http://127.0.0.1:<port>``.

    ``latency_seconds`` delays every answer; ``down`` closes every connection unanswered (the
    client sees a dropped connection, like a crashed server behind a proxy). Both can be
    changed at any time. Counters: ``queries_served`` (answered 200), ``instant_queries``,
    ``range_queries``, ``bad_queries`` (answered 400), ``refused`` (dropped while down),
    ``kinds`` (served queries by template: "requests", "errors", "p95", "p99",
    "saturation", "health", "restarts", "other"), ``in_flight``, ``peak_in_flight`` and
    ``last_answer_at`` (``time.monotonic()``); ``stats()`` returns them as a dict and
    ``reset_counters()`` zeroes them. ``set_profile`` chooses a service's behaviour.
    """

    def __init__(self, *, latency_seconds: float = 0.0, down: bool = False) -> None:
        self.latency_seconds = latency_seconds
        self.down = down
        self._behaviours: dict[str, _Behaviour] = {}
        self._series: dict[tuple[str, str], dict[str, list[_Series]]] = {}
        self._selected: dict[Selector, list[_Series]] = {}
        self._parsed: dict[str, Node] = {}
        self.in_flight = 0
        self.reset_counters()

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        for path, handler in (
            ("/api/v1/query", self._query),
            ("/api/v1/query_range", self._query_range),
        ):
            app.router.add_get(path, handler)
            app.router.add_post(path, handler)
        app.router.add_get("/-/ready", self._probe)
        app.router.add_get("/-/healthy", self._probe)
        return app

    # -- the simulated services ------------------------------------------------------------

    def set_profile(
        self, service: str, profile: Profile = "healthy", *, release_at: datetime | None = None
    ) -> None:
        """``healthy``, or ``spike``: 8 % 5xx from ``release_at`` (timezone-aware) on."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
        if profile == "spike" and release_at is None:
            raise ValueError("a spike needs release_at")
        if release_at is not None and release_at.tzinfo is None:
            raise ValueError("release_at must be timezone-aware")
        at = None if release_at is None else release_at.timestamp()
        self._behaviours[service] = _Behaviour(profile, at)
        for key in [k for k in self._series if k[0] == service]:
            del self._series[key]
        self._selected.clear()

    def profile(self, service: str) -> Profile:
        return self._behaviours.get(service, _Behaviour()).profile

    def reset_counters(self) -> None:
        self.queries_served = 0
        self.instant_queries = 0
        self.range_queries = 0
        self.bad_queries = 0
        self.refused = 0
        self.kinds: Counter[str] = Counter()
        self.peak_in_flight = self.in_flight
        self.last_answer_at: float | None = None

    def stats(self) -> dict[str, Any]:
        """The counters as plain data (e.g. to send from another process)."""
        return {
            "queries_served": self.queries_served,
            "instant_queries": self.instant_queries,
            "range_queries": self.range_queries,
            "bad_queries": self.bad_queries,
            "refused": self.refused,
            "kinds": dict(self.kinds),
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "last_answer_at": self.last_answer_at,
        }

    # -- evaluation ------------------------------------------------------------------------

    def _parse(self, query: str) -> Node:
        node = self._parsed.get(query)
        if node is None:
            node = _remember(self._parsed, query, parse(query))
        return node

    def _select(self, selector: Selector) -> list[_Series]:
        found = self._selected.get(selector)
        if found is None:
            found = _remember(self._selected, selector, self._match(selector))
        return found

    def _match(self, selector: Selector) -> list[_Series]:
        service = selector.equal("service")
        metric = selector.equal("__name__")
        if service is None or metric is None:
            return []
        env = selector.equal("env") or "prod"
        key = (service, env)
        series = self._series.get(key)
        if series is None:
            behaviour = self._behaviours.get(service, _Behaviour())
            built = _service_series(service, env, behaviour)
            series = _remember(self._series, key, built, size=CACHED // 8)
        matchers = selector.matchers
        return [
            s for s in series.get(metric, []) if all(m.matches(dict(s.labels)) for m in matchers)
        ]

    def _eval(self, node: Node, times: list[float]) -> Values | Matrix:
        """The node's value at every one of ``times``: a scalar's values, or a vector's per
        series (every simulated series has a sample at every time)."""
        if isinstance(node, Num):
            return [node.value] * len(times)
        if isinstance(node, Selector):  # an instant selector; ranges only inside calls
            return {s.labels: [s.value(t) for t in times] for s in self._select(node)}
        if isinstance(node, Call):
            return self._call(node, times)
        if isinstance(node, Aggregate):
            return self._aggregate(node, times)
        return self._binary(node, times)

    def _matrix(self, node: Node, times: list[float]) -> Matrix:
        value = self._eval(node, times)
        assert isinstance(value, dict), "the parser checks argument types"
        return value

    def _scalar(self, node: Node, times: list[float]) -> Values:
        value = self._eval(node, times)
        assert isinstance(value, list), "the parser checks argument types"
        return value

    def _call(self, node: Call, times: list[float]) -> Matrix:
        if node.name in ("rate", "increase"):
            selector = node.args[0]
            assert isinstance(selector, Selector) and selector.range_seconds is not None
            window = selector.range_seconds
            per = window if node.name == "rate" else 1.0
            return {
                _drop_name(s.labels): [s.growth(t - window, t) / per for t in times]
                for s in self._select(selector)
            }
        if node.name == "vector":
            return {(): self._scalar(node.args[0], times)}
        phis = self._scalar(node.args[0], times)
        groups: dict[Labels, list[tuple[float, Values]]] = {}
        for labels, values in self._matrix(node.args[1], times).items():
            bucket = _bucket(labels)
            if bucket is not None:
                groups.setdefault(bucket[0], []).append((bucket[1], values))
        quantiles: Matrix = {}
        for labels, buckets in groups.items():
            buckets.sort(key=lambda b: b[0])
            bounds = [le for le, _ in buckets]
            quantiles[labels] = [
                _quantile(phi, bounds, [values[i] for _, values in buckets])
                for i, phi in enumerate(phis)
            ]
        return quantiles

    def _aggregate(self, node: Aggregate, times: list[float]) -> Matrix:
        groups: dict[Labels, list[Values]] = {}
        grouping, without = node.grouping, node.without
        for labels, values in self._matrix(node.arg, times).items():
            groups.setdefault(_group_key(labels, grouping, without), []).append(values)
        return {
            key: [_aggregate(node.op, column) for column in zip(*members, strict=True)]
            for key, members in groups.items()
        }

    def _binary(self, node: Binary, times: list[float]) -> Values | Matrix:
        lhs, rhs = self._eval(node.lhs, times), self._eval(node.rhs, times)
        op = node.op

        def apply(a: Values, b: Values) -> Values:
            return [_arith(op, x, y) for x, y in zip(a, b, strict=True)]

        if isinstance(lhs, list) and isinstance(rhs, list):
            return apply(lhs, rhs)
        if isinstance(lhs, list):
            assert isinstance(rhs, dict)
            return {_drop_name(k): apply(lhs, v) for k, v in rhs.items()}
        if isinstance(rhs, list):
            return {_drop_name(k): apply(v, rhs) for k, v in lhs.items()}
        right = {_drop_name(k): v for k, v in rhs.items()}
        return {
            _drop_name(k): apply(v, right[_drop_name(k)])
            for k, v in lhs.items()
            if _drop_name(k) in right
        }

    def instant(self, query: str, at_ms: int) -> dict[str, Any]:
        """The ``data`` of an instant query (BadData if Prometheus would refuse it)."""
        node = self._parse(query)
        if isinstance(node, Selector) and node.range_seconds is not None:
            return {"resultType": "matrix", "result": self._raw(node, at_ms)}
        value = self._eval(node, [at_ms / 1000])
        at = _ts(at_ms)
        if isinstance(value, list):
            return {"resultType": "scalar", "result": [at, _fmt(value[0])]}
        result = [{"metric": dict(k), "value": [at, _fmt(v[0])]} for k, v in value.items()]
        return {"resultType": "vector", "result": result}

    def _raw(self, node: Selector, at_ms: int) -> list[dict[str, Any]]:
        """A range selector's samples: the scrapes in ``(t - range, t]``."""
        assert node.range_seconds is not None
        t = at_ms / 1000
        first = math.floor((t - node.range_seconds) / STEP) + 1
        times = [k * STEP for k in range(first, math.floor(t / STEP) + 1)]
        return [
            {
                "metric": dict(s.labels),
                "values": [[_ts(round(u * 1000)), _fmt(s.value(u))] for u in times],
            }
            for s in self._select(node)
        ]

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, Any]:
        """The ``data`` of a range query: every series' points from start to end."""
        if end_ms < start_ms:
            raise BadData('invalid parameter "end": end timestamp must not be before start time')
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
            raise BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                "the query resolution (?step=XX)"
            )
        node = self._parse(query)
        if _kind(node) == "matrix":
            raise BadData(
                'invalid parameter "query": invalid expression type "range vector" for range '
                "query, must be Scalar or instant Vector"
            )
        stamps = range(start_ms, end_ms + 1, step_ms)
        value = self._eval(node, [ms / 1000 for ms in stamps])
        matrix = {(): value} if isinstance(value, list) else value
        result = [
            {
                "metric": dict(labels),
                "values": [[_ts(ms), _fmt(v)] for ms, v in zip(stamps, values, strict=True)],
            }
            for labels, values in matrix.items()
        ]
        return {"resultType": "matrix", "result": result}

    # -- HTTP --------------------------------------------------------------------------------

    async def _query(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, ranged=False)

    async def _query_range(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, ranged=True)

    async def _answer(self, request: web.Request, *, ranged: bool) -> web.StreamResponse:
        if self.down:
            self.refused += 1
            if request.transport is not None:
                request.transport.close()  # no HTTP response at all
            return web.Response(status=503)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency_seconds > 0:
                await asyncio.sleep(self.latency_seconds)
            params: dict[str, str] = dict(request.query)
            if request.method == "POST":
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            try:
                data, kind = self._evaluate(params, ranged=ranged)
            except BadData as e:
                self.bad_queries += 1
                body = {"status": "error", "errorType": "bad_data", "error": e.message}
                return web.json_response(body, status=400)
            self.queries_served += 1
            if ranged:
                self.range_queries += 1
            else:
                self.instant_queries += 1
            self.kinds[kind] += 1
            return web.Response(
                text=json.dumps({"status": "success", "data": data}, separators=(",", ":")),
                content_type="application/json",
            )
        finally:
            self.in_flight -= 1
            self.last_answer_at = time.monotonic()

    def _evaluate(self, params: Mapping[str, str], *, ranged: bool) -> tuple[dict[str, Any], str]:
        query = params.get("query", "")
        if ranged:
            start = _time_ms(params, "start")
            end = _time_ms(params, "end")
            step = _step_ms(params.get("step"))
            data = self.range(query, start, end, step)
        else:
            data = self.instant(query, _time_ms(params, "time", default=time.time()))
        return data, query_kind(self._parse(query))

    @staticmethod
    async def _probe(request: web.Request) -> web.StreamResponse:
        what = "Ready" if request.path.endswith("ready") else "Healthy"
        return web.Response(text=f"Prometheus Server is {what}.\n")
