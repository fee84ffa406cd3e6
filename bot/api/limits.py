"""The limits every JSON body is held to at the edge, before a model sees it.

A body within 1 MiB can still crash what comes after the parse: nesting that exhausts the
recursion limit (the parser's, pydantic's, the serializer's), integers too long to convert,
`NaN`/`Infinity` no database stores as JSON, lone surrogates (`"\\ud83d"`) that cannot be
encoded as UTF-8. `parse_body` refuses each with a 422 naming the JSON path of the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from bot.errors import FieldProblem, InvalidInput, MalformedRequest

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "parse_body", "parse_object"]

MAX_DEPTH = 32  # objects and arrays inside one another; Herald's own payloads need 4
MAX_NUMBER_CHARS = 40  # digits (and sign, point, exponent) of one number literal
MAX_PROBLEMS = 20  # a body with a thousand bad strings is answered with the first twenty
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(str):
    """A number literal the parser keeps as its text so the walk can name where it was."""


def parse_body(raw: bytes) -> Any:
    """The JSON value in `raw`, or `MalformedRequest` (not JSON) / `InvalidInput` (a limit)."""
    try:
        value = json.loads(raw, parse_int=_integer, parse_float=_decimal, parse_constant=_Refused)
    except RecursionError as exc:  # deeper than the parser can go: find where by scanning
        path = _printable(_too_deep_at(raw.decode("utf-8", "replace")))
        raise InvalidInput(
            f"the body is nested deeper than {MAX_DEPTH} levels",
            details=[FieldProblem(path or "(root)", f"nested deeper than {MAX_DEPTH} levels")],
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from exc
    problems = _first(_problems(value))
    if problems:
        raise InvalidInput(f"{len(problems)} field(s) outside Herald's limits", details=problems)
    return value


def parse_object(raw: bytes) -> dict[str, Any]:
    """`parse_body`, for a route that takes a JSON object."""
    data = parse_body(raw)
    if not isinstance(data, dict):
        raise InvalidInput(
            "request body must be a JSON object",
            details=[FieldProblem("(root)", "expected an object")],
        )
    return data


def _integer(text: str) -> int | _Refused:
    return _Refused(text) if len(text) > MAX_NUMBER_CHARS else int(text)


def _decimal(text: str) -> float | _Refused:
    if len(text) > MAX_NUMBER_CHARS:
        return _Refused(text)
    number = float(text)
    return number if math.isfinite(number) else _Refused(text)


def _first(problems: Iterator[FieldProblem]) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for problem in problems:
        out.append(problem)
        if len(out) == MAX_PROBLEMS:
            break
    return out


def _problems(root: Any) -> Iterator[FieldProblem]:
    """Every limit `root` breaks, by path; iterative, so no depth can exhaust the stack."""
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict | list) and depth >= MAX_DEPTH:
            yield FieldProblem(path or "(root)", f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                inner = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    yield FieldProblem(_printable(inner), "field name is not valid Unicode")
                else:
                    stack.append((inner, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", value[i], depth + 1) for i in reversed(range(len(value))))
        elif isinstance(value, _Refused):
            yield FieldProblem(path or "(root)", _number_problem(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            yield FieldProblem(
                _printable(path) or "(root)", "contains a lone surrogate (not valid Unicode)"
            )


def _too_deep_at(text: str) -> str:
    """The path of the first container nested past `MAX_DEPTH` in JSON `text`, found with a
    flat scan of its tokens (no recursion); "" if none is."""
    frames: list[list[Any]] = []  # per open container: [is it an object, key or index]
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "{[":
            if len(frames) == MAX_DEPTH:
                return _frame_path(frames)
            frames.append([mark == "{", None if mark == "{" else 0])
        elif mark in "}]":
            if frames:
                frames.pop()
        elif mark == "," and frames and not frames[-1][0]:
            frames[-1][1] += 1
        elif mark.startswith('"') and frames and frames[-1][0]:
            frames[-1][1] = mark  # a key, or a value after one: a key is followed by ':'
        elif mark == ":" and frames:
            frames[-1][1] = _key(frames[-1][1])
    return ""


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]')


def _key(token: Any) -> str:
    try:
        return str(json.loads(token))
    except (TypeError, ValueError):
        return "?"


def _frame_path(frames: list[list[Any]]) -> str:
    path = ""
    for is_object, at in frames:
        if is_object:
            path = f"{path}.{at}" if path else str(at)
        else:
            path += f"[{at}]"
    return path


def _number_problem(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        return f"number longer than {MAX_NUMBER_CHARS} characters"
    return "must be a finite number"


def _printable(path: str) -> str:
    """A path safe to put in a UTF-8 answer: a surrogate in a key is shown escaped."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", path)
