"""Calls to Slack's Web API from the outbox: timed in HeraldMetrics, failures translated."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.errors import IntegrationError
from bot.observability import HeraldMetrics

T = TypeVar("T")
# Slack refused the message itself: sending it again cannot succeed.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "too_many_attachments",
        "metadata_too_large",
        # chat.update: the message is gone, is not Herald's, or may no longer be edited
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
    }
)
FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


def translate_slack_error(exc: Exception) -> IntegrationError:
    """Map what slack_sdk and aiohttp raise to one error type with retry semantics."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429 or error in ("ratelimited", "rate_limited"):
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            return IntegrationError("slack", "rate limited", retry_after=retry_after)
        if error in PERMANENT_ERRORS:
            return IntegrationError("slack", error, retryable=False)
        return IntegrationError("slack", error or f"HTTP {status}", ambiguous=status >= 500)
    return IntegrationError("slack", f"{type(exc).__name__}: {exc}", ambiguous=True)


async def observed(metrics: HeraldMetrics | None, method: str, call: Awaitable[T]) -> T:
    """Await one Web API call, recording how long it took and how it failed."""
    started = time.monotonic()
    try:
        result = await call
    except SlackApiError as exc:
        _observe(metrics, method, started, error=str(exc.response.get("error", "http_error")))
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        _observe(metrics, method, started, error=type(exc).__name__)
        raise
    _observe(metrics, method, started, error=None)
    return result


def _observe(
    metrics: HeraldMetrics | None, method: str, started: float, *, error: str | None
) -> None:
    if metrics is not None:
        metrics.observe_slack_call(method, time.monotonic() - started, error is None, error)
