"""The store as bot/app.py builds it: migrated, one engine, a LedgerFactory over it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.slack.blocks import render_notice
from bot.store.database import Database, create_engine
from bot.store.ledgers import LedgerFactory
from bot.store.migrate import upgrade
from tests.store.support import FEED, OPS, Clock, Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(upgrade, database_url)
    database = Database(create_engine(database_url))
    clock = Clock()
    ledgers = LedgerFactory(
        database=database,
        render=render_notice,
        channels={"feed": FEED, "ops": OPS},
        clock=clock,
    )
    try:
        yield Store(database=database, ledgers=ledgers, clock=clock)
    finally:
        await database.close()
