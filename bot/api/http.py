"""HTTP plumbing shared by every route: JSON bodies, errors, auth, correlation ids."""

from __future__ import annotations

import hmac
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.api.limits import parse_object
from bot.domain.transactions import ChangedConcurrently
from bot.errors import (
    FieldProblem,
    HeraldError,
    InvalidInput,
    Unauthorized,
    UnsupportedMediaType,
)
from bot.logs import correlation_id

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
MAX_LIMIT = 500  # `?limit=` of a listing route
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")  # as a manifest's service and env
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ModelT = TypeVar("ModelT", bound=BaseModel)


def error_response(
    status: int, message: str, details: list[dict[str, str]] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": message, "details": details or []}
    cid = correlation_id.get()
    if cid:
        body["correlation_id"] = cid
    return web.json_response(body, status=status)


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
    token = correlation_id.set(cid)
    try:
        response = await handler(request)
        response.headers["X-Request-Id"] = cid
        return response
    finally:
        correlation_id.reset(token)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place errors become responses: domain errors say what to fix; bugs get an id."""
    try:
        return await handler(request)
    except ChangedConcurrently as exc:  # retryable: senders retry a 5xx, never a 409
        response = error_response(exc.status, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except HeraldError as exc:
        if exc.status == HeraldError.status:  # no HTTP meaning of its own: a bug like any other
            return _internal_error(request)
        return error_response(exc.status, exc.message, [d.as_dict() for d in exc.details])
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)
    except Exception:
        return _internal_error(request)


def _internal_error(request: web.Request) -> web.Response:
    """The exception being handled is a bug: logged with its traceback, answered with an id."""
    log.exception("unhandled error", extra={"path": request.path, "method": request.method})
    return error_response(500, "internal error; quote the correlation id when reporting it")


def require_bearer(request: web.Request, expected: str | None) -> None:
    """A valid `Authorization: Bearer` token, compared in constant time."""
    require_credentials(request, expected, header=None)


def require_credentials(request: web.Request, expected: str | None, *, header: str | None) -> None:
    """Every credential presented must be valid, and at least one must be presented: the
    bearer token, and on routes that take one, the token in `header`. A right token beside a
    wrong one is refused; each is compared in constant time."""
    supplied = request.headers.get(header) if header else None
    authorization = request.headers.get("Authorization")
    if authorization is None and supplied is None:
        raise Unauthorized(_MISSING + (f" or '{header}: <token>'" if header else ""))
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(_MISSING)
        if not _same(token, expected):
            raise Unauthorized("invalid bearer token")
    if supplied is not None and not _same(supplied, expected):
        raise Unauthorized(f"invalid {header}")


_MISSING = "missing bearer token; send 'Authorization: Bearer <HERALD_INGEST_TOKEN>'"


def _same(supplied: str, expected: str | None) -> bool:
    """Constant time; a header that is not valid Unicode is compared as its bytes."""
    if expected is None:
        return False
    return hmac.compare_digest(supplied.strip().encode("utf-8", "surrogatepass"), expected.encode())


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, held to the limits of `bot.api.limits` (422 by path)."""
    if request.content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.content_type}"
        )
    return parse_object(await request.read())


def parse_model(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """Validate `data`, listing every bad field by its path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [FieldProblem(_path(err["loc"]), err["msg"]) for err in exc.errors()]
        raise InvalidInput(f"{len(problems)} invalid field(s)", details=problems) from exc


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def parse_limit(raw: str | None, *, default: int = 50) -> int:
    """A listing's `?limit=`: a whole number from 1 to MAX_LIMIT, else a 422 naming `limit`."""
    return parse_count(raw, field="limit", most=MAX_LIMIT, default=default)


def parse_count(raw: str | None, *, field: str, most: int, default: int) -> int:
    """`?field=`: a whole number from 1 to `most` in ASCII digits (no more of them than `most`
    has), else a 422 naming `field`; absent, `default`."""
    if raw is None:
        return default
    digits = re.compile(f"[0-9]{{1,{len(str(most))}}}")
    if not digits.fullmatch(raw) or not 1 <= int(raw) <= most:
        raise InvalidInput(
            f"{field} must be a whole number from 1 to {most}",
            details=[FieldProblem(field, f"a whole number from 1 to {most}")],
        )
    return int(raw)


def parse_name(raw: str | None, *, field: str) -> str | None:
    """A `?service=` or `?env=` filter: absent or empty means all, else a name as a manifest's
    service and env are, or a 422 naming `field`."""
    if not raw:
        return None
    if not _NAME.fullmatch(raw):
        raise InvalidInput(
            f"{field} {raw!r} is not a service or env name",
            details=[FieldProblem(field, "lowercase letters, digits, '.', '_' or '-'")],
        )
    return raw
