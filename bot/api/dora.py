"""`GET /api/v1/dora`."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register `GET /api/v1/dora`."""
