"""Structured logging: one JSON object per line, with the request's correlation id."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
_SECRET_HINTS = ("token", "secret", "password", "authorization", "routing_key")


class JsonFormatter(logging.Formatter):
    """Formats records as JSON; drops values whose key looks like a secret."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            entry[key] = "***" if any(h in key.lower() for h in _SECRET_HINTS) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(*, level: str = "INFO", json_lines: bool = True) -> None:
    """Configure the root logger once; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("slack_sdk", "slack_bolt", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # a tick still running when the next is due is expected (the next one coalesces)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    # ticks handle their own errors; all that reaches the executor is a tick cancelled at exit
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)
    # A worker cancelled at shutdown mid-transaction makes the pool log its (harmless) reset;
    # real database errors reach the caller as exceptions and are logged there.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
