"""What request handlers and workers share, stored on the aiohttp app under a typed key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.catalog import Catalog
from bot.domain.freeze.book import FreezeBook
from bot.settings import Settings
from bot.store.database import Database
from bot.store.ledgers import LedgerFactory


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    catalog: Catalog
    database: Database
    ledgers: LedgerFactory
    slack: AsyncWebClient
    clock: Callable[[], datetime]
    freezes: FreezeBook  # the catalogue's windows and the declared freezes


DEPS = web.AppKey("herald_deps", Deps)
