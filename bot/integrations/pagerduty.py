"""PagerDuty Events API v2 and Change Events over aiohttp: Herald's ``Pager``.

A thin async client for the two endpoints (``/v2/enqueue``, ``/v2/change/enqueue``); the
sync ``pagerduty`` package would block the loop, retries 429 forever and cannot point at a
plain-HTTP fake. Answers: 202 → SENT; 400 (and other 4xx) → REJECTED, never retried;
429, 408, 5xx, connection errors and timeouts → retried with backoff until the next attempt
would start after ``deadline`` → GAVE_UP. A 429 waits ``Retry-After`` (else 1 s) and is no
failure; the others back off 1 s, 2 s, 4 s … capped, counting failures only. Retrying a
trigger after an ambiguous failure is safe: the dedup_key is the same.
The routing key only ever goes into the request body, never into a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.domain.paging import MAX_SUMMARY, NO_DETAILS, Page, PageOutcome
from bot.domain.text import truncate
from bot.errors import IntegrationError
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService

__all__ = ["DEFAULT_EVENTS_URL", "PagerDutyClient"]

log = logging.getLogger(__name__)

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
CLIENT_NAME = "Herald"
_RETRY_STATUSES = frozenset({408, 429})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PagerDutyClient:
    """Implements ``Pager`` against one Events API v2 endpoint."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        events_url: str = DEFAULT_EVENTS_URL,
        timeout_seconds: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._http = HttpService(
            session=session,
            service="PagerDuty",
            base_url=events_url,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout_seconds=timeout_seconds,
            clock=clock,
        )
        self._timeout = timeout_seconds
        self._clock = clock
        self._sleep = sleep
        self._first_backoff = first_backoff_seconds
        self._max_backoff = max_backoff_seconds

    def __repr__(self) -> str:
        return f"PagerDutyClient(events_url={self._http.base_url!r})"

    # -- Pager -----------------------------------------------------------------------------

    async def trigger(self, page: Page, *, routing_key: str, deadline: datetime) -> PageOutcome:
        payload: dict[str, Any] = {
            "summary": truncate(page.summary, MAX_SUMMARY),
            "source": page.source,
            "severity": page.severity,
            "timestamp": self._clock().isoformat(),
        }
        if page.component is not None:
            payload["component"] = page.component
        if page.group is not None:
            payload["group"] = page.group
        if page.custom_details:
            payload["custom_details"] = dict(page.custom_details)
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": page.dedup_key,
            "payload": payload,
            "client": CLIENT_NAME,
        }
        if page.client_url is not None:
            body["client_url"] = page.client_url
        if page.links:
            body["links"] = _links(page.links)
        what = f"trigger {page.dedup_key}"
        return await self._send("/v2/enqueue", body, what, routing_key, deadline)

    async def resolve(self, dedup_key: str, *, routing_key: str, deadline: datetime) -> PageOutcome:
        body = {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
        return await self._send("/v2/enqueue", body, f"resolve {dedup_key}", routing_key, deadline)

    async def change_event(
        self,
        *,
        summary: str,
        source: str,
        routing_key: str,
        links: Sequence[tuple[str, str]] = (),
        custom_details: Mapping[str, Any] = NO_DETAILS,
        deadline: datetime,
    ) -> PageOutcome:
        payload: dict[str, Any] = {
            "summary": truncate(summary, MAX_SUMMARY),
            "source": source,
            "timestamp": self._clock().isoformat(),
        }
        if custom_details:
            payload["custom_details"] = dict(custom_details)
        body: dict[str, Any] = {"routing_key": routing_key, "payload": payload}
        if links:
            body["links"] = _links(links)
        return await self._send("/v2/change/enqueue", body, "change event", routing_key, deadline)

    # -- the retry loop --------------------------------------------------------------------

    async def _send(
        self,
        path: str,
        body: Mapping[str, Any],
        what: str,
        routing_key: str,
        deadline: datetime,
    ) -> PageOutcome:
        data = json.dumps(body, separators=(",", ":"), default=str)
        failures = 0
        while True:
            remaining = (deadline - self._clock()).total_seconds()
            if remaining <= 0:
                log.warning(
                    "pagerduty %s: gave up at the deadline after %d failures", what, failures
                )
                return PageOutcome.GAVE_UP
            status, answer, retry_after, error = await self._attempt(
                path, data, min(self._timeout, remaining)
            )
            if status == 202:
                log.info("pagerduty %s: accepted", what)
                return PageOutcome.SENT
            if status is not None and status < 500 and status not in _RETRY_STATUSES:
                errors = answer.get("errors") if isinstance(answer, dict) else None
                log.error(
                    "pagerduty %s: rejected with HTTP %s: %s",
                    what,
                    status,
                    _redact(json.dumps(errors if errors else answer), routing_key),
                )
                return PageOutcome.REJECTED
            if status != 429:  # a 429 is a wait, not a failure: it raises no backoff
                failures += 1
            delay = self._delay(retry_after, failures=failures)
            reason = f"HTTP {status}" if status is not None else _redact(error, routing_key)
            if self._clock() + timedelta(seconds=delay) >= deadline:
                log.warning(
                    "pagerduty %s: gave up after %d failures (last: %s); "
                    "a retry in %gs would pass the deadline",
                    what,
                    failures,
                    reason,
                    delay,
                )
                return PageOutcome.GAVE_UP
            log.info("pagerduty %s: %s; retrying in %gs", what, reason, delay)
            await self._sleep(delay)

    def _delay(self, retry_after: float | None, *, failures: int) -> float:
        """`Retry-After` when given; else 1 s, 2 s, 4 s … capped, by failures so far."""
        if retry_after is not None:
            return retry_after
        return min(self._max_backoff, self._first_backoff * 2.0 ** max(0, failures - 1))

    async def _attempt(
        self, path: str, data: str, seconds: float
    ) -> tuple[int | None, Any, float | None, str]:
        """(status or None, parsed answer, Retry-After seconds, error) of one POST."""
        try:
            answer = await self._http.request(
                "POST", path, data=data, timeout_seconds=seconds, allow_redirects=False
            )
        except ErrorAnswer as e:
            answer = e.answer
        except IntegrationError as e:
            kind = e.extra.get("error", "")
            return None, None, None, f"no answer in {seconds:g}s" if kind == TIMEOUT else kind
        try:
            parsed = json.loads(answer.body) if answer.body else None
        except ValueError:
            parsed = answer.body[:200].decode("utf-8", "replace")
        retry_after = answer.retry_after if answer.status == 429 else None
        return answer.status, parsed, retry_after, ""


def _links(links: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"href": href, "text": text} if text else {"href": href} for href, text in links]


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "<routing key>") if secret else text
