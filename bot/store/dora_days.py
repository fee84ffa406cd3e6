"""Whole UTC days of DORA facts kept in `dora_days` (one row per day, service and env), so
a year-long report reads ~365 rows per service and env instead of every release.

A row is valid while `summarized` equals `version`: the triggers of migration 0016 bump
`version` in the very transaction that writes a release touching the day. A stale row is
recomputed from `releases` (`bot.store.dora_facts`) on read, in the reader's own snapshot,
*after* the versions were read: what it computes is at least as new as the version it read,
so storing it under that version (and only while the row still has it) can never keep an
older answer for a newer version. Any number of processes may do this at once: the same
version gives the same bytes, and a row that moved on is left alone for the next read.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.dora.window import EPOCH
from bot.store.database import Database
from bot.store.dora_facts import DayFacts, fetch_rows, read_day_facts
from bot.store.tables import DoraDayRow

log = logging.getLogger(__name__)
_days = DoraDayRow.metadata.tables[DoraDayRow.__tablename__]
_c = _days.c
_COUNTS = ("deploys", "failed_deploys", "rework_deploys", "failures")
_ARRAYS = ("deploy_seconds", "lead_times", "restore_times")


class StoredDay(NamedTuple):
    """One `dora_days` row as read: the counts and the packed arrays (a row of the driver's
    with more columns after these reads the same)."""

    day: int
    deploys: int
    failed_deploys: int
    rework_deploys: int
    failures: int
    deploy_seconds: bytes
    lead_times: bytes
    restore_times: bytes

    @classmethod
    def of(cls, facts: DayFacts) -> StoredDay:
        return cls(
            day=facts.day,
            deploys=len(facts.deploy_seconds),
            failed_deploys=facts.failed_deploys,
            rework_deploys=facts.rework_deploys,
            failures=facts.failures,
            deploy_seconds=facts.deploy_seconds.tobytes(),
            lead_times=facts.lead_times.tobytes(),
            restore_times=facts.restore_times.tobytes(),
        )


@dataclass(frozen=True)
class Recomputed:
    """A stale row's facts, to be stored under the version they were read after."""

    service: str
    env: str
    version: int
    day: StoredDay


def day_start(day: int) -> datetime:
    return EPOCH + timedelta(days=day)


async def read_days(
    session: AsyncSession,
    *,
    sqlite: bool,
    first: int,
    last: int,
    service: str | None,
    env: str | None,
) -> tuple[list[Sequence[Any]], list[Recomputed]]:
    """Days `first` to `last` (exclusive) of the scope: the valid rows as stored (the
    driver's tuples, read as `StoredDay`), and the stale ones recomputed from `releases`
    (to be stored with `store_days`)."""
    query = select(_c.day, *_stored(), _c.service, _c.env, _c.version, _c.summarized).where(
        _c.day >= first, _c.day < last
    )
    if service is not None:
        query = query.where(_c.service == service)
    if env is not None:
        query = query.where(_c.env == env)
    rows = await fetch_rows(session, query)
    valid: list[Sequence[Any]] = [row for row in rows if row[-1] == row[-2]]
    stale: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for row in rows:
        if row[-1] != row[-2]:
            stale[(row[-4], row[-3])][row[0]] = row[-2]
    recomputed = [
        entry
        for (row_service, row_env), versions in sorted(stale.items())
        for entry in await _recompute(
            session, sqlite=sqlite, service=row_service, env=row_env, versions=versions
        )
    ]
    return valid, recomputed


async def _recompute(
    session: AsyncSession, *, sqlite: bool, service: str, env: str, versions: dict[int, int]
) -> list[Recomputed]:
    facts = await read_day_facts(
        session,
        sqlite=sqlite,
        ranges=[(day_start(min(versions)), day_start(max(versions) + 1))],
        service=service,
        env=env,
    )
    return [
        Recomputed(service, env, version, StoredDay.of(facts.get(day) or DayFacts.empty(day)))
        for day, version in sorted(versions.items())
    ]


async def store_days(database: Database, recomputed: Sequence[Recomputed]) -> None:
    """Store recomputed rows where the version is still the one they were read after. A
    failure is logged and costs nothing but the next read's recomputing."""
    if not recomputed:
        return
    params = [_params(entry) for entry in recomputed]
    statement = (
        update(_days)
        .where(
            _c.day == bindparam("p_day"),
            _c.service == bindparam("p_service"),
            _c.env == bindparam("p_env"),
            _c.version == bindparam("p_version"),
        )
        .values(
            summarized=bindparam("p_version"),
            **{name: bindparam(f"p_{name}") for name in (*_COUNTS, *_ARRAYS)},
        )
    )

    def write(connection: Connection) -> None:
        if not database.sqlite:
            # Never keep a release's writer waiting: give up on a locked row instead.
            connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
        connection.execute(statement, params)

    try:
        await database.write_now(write)
    except Exception:
        log.warning("dora: could not store %d summarized days", len(params), exc_info=True)


def _params(entry: Recomputed) -> dict[str, Any]:
    day = entry.day
    values: dict[str, Any] = {f"p_{name}": getattr(day, name) for name in (*_COUNTS, *_ARRAYS)}
    return values | {
        "p_day": day.day,
        "p_service": entry.service,
        "p_env": entry.env,
        "p_version": entry.version,
    }


def _stored() -> list[Any]:
    return [_c[name] for name in (*_COUNTS, *_ARRAYS)]
