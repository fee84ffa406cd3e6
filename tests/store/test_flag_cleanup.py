"""Flags due for clean-up: the weekly report lists them, and each owner gets one DM a week
(across replicas) about theirs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.reports.flag_owners import FlagOwnerReminders
from bot.reports.jobs import WeeklyReport
from bot.store.tables import OutboxRow
from tests.store.support import T0, Store, count, manifest, recorder, register, run

FLAGS = [
    {"key": "old_pricing", "owner": "U0OWNER", "expires": (T0 - timedelta(days=2)).isoformat()},
    {"key": "new_search", "owner": "U0OWNER", "expires": (T0 + timedelta(days=9)).isoformat()},
    "dark_mode",  # a plain key: stale once shipped over 30 days ago
    {"key": "team_flag", "owner": "team-web", "expires": (T0 - timedelta(days=1)).isoformat()},
]


async def shipped(store: Store, *, days_ago: int) -> None:
    await register(store, manifest(id="rel-flags", flags=FLAGS))
    at = T0 - timedelta(days=days_ago)
    for event in (EventType.STARTED, EventType.DEPLOYED):
        await run(store, recorder(store, "rel-flags", EventRequest(event=event, at=at)))


async def test_the_weekly_report_lists_expired_and_old_flags(store: Store) -> None:
    await shipped(store, days_ago=45)
    numbers = await WeeklyReport(database=store.database).numbers(T0)
    [line] = [line for line in numbers.extra if line.startswith("Flags to clean up")]
    assert line == (
        "Flags to clean up: dark_mode (webapp prod: shipped 45 days ago);"
        " old_pricing (webapp prod: expired 2025-09-30, owner U0OWNER);"
        " team_flag (webapp prod: expired 2025-10-01, owner team-web)."
    )


async def test_each_owner_hears_once_a_week_about_their_flags(store: Store) -> None:
    await shipped(store, days_ago=3)  # dark_mode is young; old_pricing and team_flag expired
    reminders = FlagOwnerReminders(database=store.database, clock=lambda: T0)
    assert sum(await asyncio.gather(reminders.run(), reminders.run())) == 1  # two replicas
    assert await reminders.run() == 0
    assert await count(store.database, OutboxRow, channel="U0OWNER") == 1  # not team-web: no id
    next_week = FlagOwnerReminders(database=store.database, clock=lambda: T0 + timedelta(days=7))
    assert await next_week.run() == 1
