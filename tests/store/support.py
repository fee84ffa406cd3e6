"""Small helpers for the store tests: a settable clock, row counts, a use-case runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from bot.domain.ports import Ledger
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.recording import Outcome, record_event, register_release
from bot.domain.transactions import run_in_transaction
from bot.examples import example_manifest
from bot.store.database import Database
from bot.store.ledgers import LedgerFactory

T0 = datetime(2025, 10, 2, 20, 30, 0, 123456, tzinfo=UTC)
FEED, OPS = "CFEED", "COPS"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass(frozen=True)
class Store:
    database: Database
    ledgers: LedgerFactory
    clock: Clock


def manifest(**overrides: Any) -> Manifest:
    """The example manifest, plus unknown fields CI may send (they must be kept)."""
    data = example_manifest()
    data["git"] = {**data["git"], "x_pipeline_id": 4711}
    data["x_team"] = {"slack": "#billing", "oncall": ["ana", "bo"]}
    data.update(overrides)
    return Manifest.model_validate(data)


def is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def count(database: Database, table: type[SQLModel], **equal: Any) -> int:
    """Rows of `table` whose columns equal the given values, read in a fresh transaction."""
    statement = select(func.count()).select_from(table)
    for name, value in equal.items():
        statement = statement.where(col(getattr(table, name)) == value)
    async with database.transaction() as session:
        return int((await session.execute(statement)).scalar_one())


async def run(store: Store, use_case: Callable[[Ledger], Awaitable[Outcome]]) -> Outcome:
    """One transaction per attempt, again on ConcurrentWrite (as the API runs use cases)."""
    return await run_in_transaction(store.ledgers, use_case)


async def register(store: Store, release: Manifest | None = None) -> Outcome:
    chosen = release or manifest()
    return await run(
        store, lambda ledger: register_release(ledger=ledger, manifest=chosen, now=store.clock())
    )


def recorder(
    store: Store, release_id: str, request: EventRequest
) -> Callable[[Ledger], Awaitable[Outcome]]:
    """The `record_event` use case, ready for `run`."""

    async def use_case(ledger: Ledger) -> Outcome:
        return await record_event(
            ledger=ledger, release_id=release_id, request=request, now=store.clock()
        )

    return use_case


async def advance(store: Store, release_id: str, *events: EventType) -> None:
    """Record `events` in order, each in its own transaction."""
    for event in events:
        await run(store, recorder(store, release_id, EventRequest(event=event)))
