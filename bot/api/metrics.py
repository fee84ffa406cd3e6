"""`GET /metrics` for Prometheus."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register `GET /metrics`."""
