"""DORA's summarized days (bot/store/dora_days.py) on SQLite and PostgreSQL: once a report
has summarized the past days, releases that are added to them, fail, recover or are rolled
back hours later, or are deleted, still give the pure answers, for windows that end at
midnight and mid-day."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from bot.domain.dora.report import DoraReport, compute_report
from bot.domain.dora.window import DoraWindow, epoch_seconds
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.store.dora import dora_report
from bot.store.dora_days import day_start, read_days, store_days
from bot.store.tables import DoraDayRow
from tests.domain.dora.histories import DAY, END, HOUR, MIN, WINDOW, E, Story, deploy, facts
from tests.store.support import Store, recorder, run
from tests.store.test_dora import FILTERS, a_busy_two_months, record

MID_DAY = DoraWindow.ending(END - 7 * HOUR - 13 * MIN - 5 * timedelta(seconds=1), WINDOW.length)
WINDOWS = (WINDOW, MID_DAY, DoraWindow.ending(END, timedelta(days=2)))


async def reports(store: Store, window: DoraWindow) -> list[DoraReport]:
    return [
        await dora_report(store.database, window=window, service=service, env=env)
        for service, env in FILTERS
    ]


def expected(stories: list[Story], window: DoraWindow) -> list[DoraReport]:
    return [compute_report(facts(stories), window, service=s, env=e) for s, e in FILTERS]


async def summarized_days(store: Store) -> int:
    c = DoraDayRow.metadata.tables["dora_days"].c
    query = select(func.count()).where(c.summarized == c.version)
    async with store.database.read() as session:
        return int((await session.execute(query)).scalar_one())


async def then(store: Store, story: Story, *events: tuple[EventType, datetime]) -> Story:
    """Record more events of a release already stored; the story as it now reads."""
    for kind, at in events:
        await run(store, recorder(store, story.id, EventRequest(event=kind, at=at)))
    return replace(story, events=(*story.events, *events))


async def test_reports_read_summarized_days_and_stay_exact_as_those_days_change(
    store: Store,
) -> None:
    stories = a_busy_two_months()
    await record(store, stories)
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)
    before = await summarized_days(store)
    assert before > 30, "the first reports summarize the whole past days they read"
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)

    # A release deployed 10 days before the end, on a day already summarized.
    late = deploy("late-1", END - 10 * DAY - 3 * HOUR, lead=5400.0, service="api")
    await record(store, [late])
    stories.append(late)
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)

    # It fails five hours later (the next day), is rolled back and recovers.
    failed_at = END - 10 * DAY + 2 * HOUR
    stories[-1] = await then(store, late, (E.FAILED, failed_at))
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)
    stories[-1] = await then(
        store, stories[-1], (E.ROLLED_BACK, failed_at + 10 * MIN), (E.RECOVERED, failed_at + HOUR)
    )
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)

    # An old release that had deployed fine fails, days after its summarized day.
    index, old = next((i, s) for i, s in enumerate(stories) if len(s.events) == 2)
    stories[index] = await then(store, old, (E.FAILED, END - 2 * DAY), (E.ROLLED_BACK, END - DAY))
    for window in WINDOWS:
        assert await reports(store, window) == expected(stories, window)
    assert await summarized_days(store) >= before


async def test_a_deleted_release_leaves_its_summarized_day(store: Store) -> None:
    stories = a_busy_two_months()
    await record(store, stories)
    assert await reports(store, WINDOW) == expected(stories, WINDOW)
    gone = next(s for s in stories if WINDOW.contains(s.facts().deployed_at))
    async with store.database.transaction() as session:  # as an operator would, by hand
        for table in ("release_events", "checkups", "watches"):
            delete = text(f"DELETE FROM {table} WHERE release_id = :id")
            await session.execute(delete, {"id": gone.id})
        await session.execute(text("DELETE FROM releases WHERE id = :id"), {"id": gone.id})
    stories.remove(gone)
    assert await reports(store, WINDOW) == expected(stories, WINDOW)


async def test_a_day_summarized_while_a_release_on_it_is_written_is_not_kept(
    store: Store,
) -> None:
    """Another process reads the days, a release on one of them is written, then the other
    process stores what it read: the next report still sees the write."""
    stories = a_busy_two_months()
    await record(store, stories)
    first, last = days_of(WINDOW)
    async with store.database.read() as session:
        _, recomputed = await read_days(
            session, sqlite=store.database.sqlite, first=first, last=last, service=None, env=None
        )
    assert recomputed, "nothing was summarized yet"
    busy = max(recomputed, key=lambda entry: entry.day.deploys)  # a day with deploys already
    at = day_start(busy.day.day) + 5 * HOUR
    late = deploy("late-2", at, lead=700.0, service=busy.service, env=busy.env)
    await record(store, [late])
    stories.append(late)
    await store_days(store.database, recomputed)
    assert await reports(store, WINDOW) == expected(stories, WINDOW)
    assert await reports(store, WINDOW) == expected(stories, WINDOW)


async def test_two_reports_at_once_summarize_the_same_days_alike(store: Store) -> None:
    stories = a_busy_two_months()
    await record(store, stories)
    one, two = await asyncio.gather(
        dora_report(store.database, window=MID_DAY), dora_report(store.database, window=MID_DAY)
    )
    assert one == two == compute_report(facts(stories), MID_DAY)
    assert await reports(store, MID_DAY) == expected(stories, MID_DAY)


def days_of(window: DoraWindow) -> tuple[int, int]:
    return -(-epoch_seconds(window.start) // 86400), epoch_seconds(window.end) // 86400
