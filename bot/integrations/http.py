"""One outside service over HTTP: Herald's one way to call Argo CD, Prometheus and PagerDuty.

``HttpService`` sends a request over the shared ``aiohttp.ClientSession`` with the service's
base URL, headers and one timeout, and turns every failure into one ``IntegrationError``: a
timeout or a dropped connection (``ambiguous`` when the request changes something and may
have arrived), a connection that was never made, or a 4xx/5xx answer (an ``ErrorAnswer``,
which keeps the answer so the client can word it). Each failed call logs one line: service,
method, path (never the query), status or error kind and elapsed time; never a header or a
body, so never a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from bot.errors import IntegrationError

__all__ = ["TIMEOUT", "Answer", "ErrorAnswer", "HttpService", "parse_retry_after"]

log = logging.getLogger(__name__)

TIMEOUT = "timeout"  # IntegrationError.extra["error"] of a call that got no answer in time
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Params = Mapping[str, str] | Sequence[tuple[str, str]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    started: float  # time.monotonic()


@dataclass(frozen=True)
class Answer:
    """What the service answered: the status, the raw body and ``Retry-After`` in seconds."""

    status: int
    body: bytes
    retry_after: float | None = None


class ErrorAnswer(IntegrationError):
    """The service answered 4xx or 5xx; ``answer`` holds what it said."""

    def __init__(self, service: str, answer: Answer) -> None:
        super().__init__(
            service,
            f"{service} answered HTTP {answer.status}",
            retryable=answer.status >= 500 or answer.status in (408, 429),
            retry_after=answer.retry_after,
            http_status=answer.status,
        )
        self.answer = answer


class HttpService:
    """Requests to one service (``service`` names it in errors and logs) under one base URL."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        service: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._session = session
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self.timeout_seconds = timeout_seconds
        self._clock = clock

    def __repr__(self) -> str:
        return f"HttpService(service={self.service!r}, base_url={self.base_url!r})"  # no headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: str | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        changes: bool | None = None,
        allow_redirects: bool = True,
    ) -> Answer:
        """The answer to ``method path`` when it is not 4xx/5xx; else an ``IntegrationError``.

        ``changes`` says whether the request changes something (by default: any method but
        GET, HEAD and OPTIONS), which makes a lost answer ambiguous.
        """
        seconds = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        writes = method not in SAFE_METHODS if changes is None else changes
        call = _Call(method, path.split("?", 1)[0], time.monotonic())  # no query in a log
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers={**self._headers, **(headers or {})},
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=allow_redirects,
            ) as resp:
                status, body = resp.status, await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock())
        except TimeoutError:
            raise self._failed(call, self._no_answer(seconds, writes=writes)) from None
        except aiohttp.ClientError as e:
            raise self._failed(call, self._unreachable(e, writes=writes)) from None
        answer = Answer(status, body, retry_after)
        if status >= 400:
            raise self._failed(call, ErrorAnswer(self.service, answer))
        self._log(logging.DEBUG, call, said=f"answered HTTP {status}", status=status)
        return answer

    def _no_answer(self, seconds: float, *, writes: bool) -> IntegrationError:
        """The request may have gone out: ambiguous if it changes something."""
        return IntegrationError(
            self.service,
            f"{self.service} did not answer in {seconds:g} s; {_outcome(ambiguous=writes)}",
            ambiguous=writes,
            extra={"error": TIMEOUT},
        )

    def _unreachable(self, error: aiohttp.ClientError, *, writes: bool) -> IntegrationError:
        kind = type(error).__name__
        sure = isinstance(error, aiohttp.ClientConnectorError)  # never connected: nothing sent
        ambiguous = writes and not sure
        return IntegrationError(
            self.service,
            f"Could not reach {self.service} at {self.base_url} ({kind}); "
            + _outcome(ambiguous=ambiguous),
            ambiguous=ambiguous,
            extra={"error": kind},
        )

    def _failed(self, call: _Call, error: IntegrationError) -> IntegrationError:
        """The one log line of a failed call, then the error to raise."""
        kind = error.extra.get("error")
        said = f"HTTP {error.http_status}" if error.http_status is not None else kind
        self._log(
            logging.WARNING, call, said=f"failed: {said}", status=error.http_status, kind=kind
        )
        return error

    def _log(
        self, level: int, call: _Call, *, said: str, status: int | None, kind: str | None = None
    ) -> None:
        elapsed_ms = round((time.monotonic() - call.started) * 1000)
        log.log(
            level,
            "%s %s %s %s (%d ms)",
            self.service,
            call.method,
            call.path,
            said,
            elapsed_ms,
            extra={
                "service": self.service,
                "method": call.method,
                "path": call.path,
                "status": status,
                "error": kind,
                "elapsed_ms": elapsed_ms,
            },
        )


def _outcome(*, ambiguous: bool) -> str:
    if ambiguous:
        return "the change may or may not have been made; check the status before retrying."
    return "nothing was changed."


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
