"""DORA from Herald's store: whole UTC days from `dora_days` (bot/store/dora_days.py), the
window's first and last part-days from the indexes of `releases` (bot/store/dora_facts.py).

A window `[start, end)` is cut at midnights (UTC): the part-day before the first midnight
and the one after the last are read from `releases` on every call (the current day is one:
a window asked for "now" ends mid-day); the whole days between come from `dora_days`, each
recomputed from `releases` first if it changed since it was summarized (and then stored,
after the read). Either way a day gives the same facts: the seconds into the day of each
deploy (so deploys per day index of the window, `DoraWindow.day_index`, come out exact for
any end), counts, and the positive lead times and restore times themselves, so percentiles
are taken over the window's values: numpy's partial sort finds the two each percentile
interpolates between, the same bits as PostgreSQL's `percentile_cont` and
`bot.domain.dora.reference.percentile`, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.dora.reference import WindowCounts, interpolate, percentile_ranks
from bot.domain.dora.report import DoraReport, build_report
from bot.domain.dora.window import DAY, EPOCH, DoraWindow, epoch_seconds
from bot.store.database import Database
from bot.store.dora_days import Recomputed, StoredDay, read_days, store_days
from bot.store.dora_facts import SECONDS, VALUES, read_day_facts

LEAD_QS = (0.5, 0.9)
RESTORE_QS = (0.5,)


async def window_report(
    database: Database,
    *,
    window: DoraWindow,
    service: str | None = None,
    env: str | None = None,
    compare: bool = True,
) -> DoraReport:
    """DORA for one service (or all) and env (or all) in `window`, and the window before it
    for the trend (unless `compare` is False). One read-only transaction, then the days it
    had to summarize are stored."""
    windows = [window, window.previous()] if compare else [window]
    counts: list[WindowCounts] = []
    recomputed: list[Recomputed] = []
    async with database.read() as session:
        for each in windows:
            days = await _window_days(
                database, session, window=each, service=service, env=env, recomputed=recomputed
            )
            counts.append(window_counts(each, days))
    await store_days(database, recomputed)
    return build_report(
        service=service,
        env=env,
        window=window,
        counts=counts[0],
        previous=counts[1] if compare else None,
    )


async def _window_days(
    database: Database,
    session: AsyncSession,
    *,
    window: DoraWindow,
    service: str | None,
    env: str | None,
    recomputed: list[Recomputed],
) -> list[Sequence[Any]]:
    """Every day's facts of the window: whole days summarized, part-days from `releases`."""
    sqlite = database.sqlite
    start, end = epoch_seconds(window.start), epoch_seconds(window.end)
    first, last = -(-start // DAY), end // DAY  # the whole days: [first, last)
    parts = [(start, end)] if first >= last else [(start, first * DAY), (last * DAY, end)]
    days: list[Sequence[Any]] = []
    if first < last:
        valid, fresh = await read_days(
            session, sqlite=sqlite, first=first, last=last, service=service, env=env
        )
        days += valid + [entry.day for entry in fresh]
        recomputed += fresh
    ranges = [(_at(low), _at(high)) for low, high in parts if low < high]
    if ranges:
        facts = await read_day_facts(
            session, sqlite=sqlite, ranges=ranges, service=service, env=env
        )
        days += [StoredDay.of(f) for f in facts.values()]
    return days


def _at(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def window_counts(window: DoraWindow, days: Sequence[Sequence[Any]]) -> WindowCounts:
    """The window's counts from its days' facts (`StoredDay`s, or rows that start as one):
    every deploy and failure in the window."""
    if not days:
        return WindowCounts()
    day, deploys, failed, rework, failures, seconds, leads, restores = list(
        zip(*days, strict=False)
    )[:8]
    lead_times = np.frombuffer(b"".join(leads), VALUES)
    restore_times = np.frombuffer(b"".join(restores), VALUES)
    lead = _percentiles(lead_times, LEAD_QS)
    return WindowCounts(
        deploys=sum(deploys),
        deploy_days=_deploy_days(
            window,
            days=np.array(day, dtype=np.int64),
            deploys=np.array(deploys, dtype=np.int64),
            seconds=np.frombuffer(b"".join(seconds), SECONDS),
        ),
        failed_deploys=sum(failed),
        rework_deploys=sum(rework),
        lead_times=len(lead_times),
        lead_time_median=lead[0],
        lead_time_p90=lead[1],
        failures=sum(failures),
        restores=len(restore_times),
        restore_median=_percentiles(restore_times, RESTORE_QS)[0],
    )


def _deploy_days(
    window: DoraWindow,
    *,
    days: npt.NDArray[np.int64],
    deploys: npt.NDArray[np.int64],
    seconds: npt.NDArray[np.int32],
) -> dict[int, int]:
    """Deploys per day index: a UTC day's deploys fall on two of the window's 24-hour
    periods, cut after the day's second `(end - 1) mod 86400` (on one when the window ends
    at midnight). `seconds` holds each day's deploys' seconds, day after day."""
    last = epoch_seconds(window.end) - 1
    cut = last % DAY
    late = np.zeros(len(days), dtype=np.int64)  # deploys after the cut: one period earlier
    present = deploys > 0
    if cut < DAY - 1 and present.any():
        offsets = np.concatenate(([0], np.cumsum(deploys)[:-1]))
        late[present] = np.add.reduceat((seconds > cut).astype(np.int64), offsets[present])
    index = (last - days * DAY) // DAY
    counts = np.zeros(int(index.max()) + 2 if len(index) else 1, dtype=np.int64)
    np.add.at(counts, index, deploys - late)
    np.add.at(counts, index - 1, late)  # index 0's late ones are never in the window
    return {int(i): int(counts[i]) for i in np.flatnonzero(counts)}


def _percentiles(values: npt.NDArray[np.float64], qs: Sequence[float]) -> tuple[float | None, ...]:
    """`percentile_cont(q)` for each q, with the same bits: the two values each percentile
    interpolates between, found by a partial sort (numpy's introselect), not a full one."""
    if len(values) == 0:
        return tuple(None for _ in qs)
    ranks = [percentile_ranks(len(values), q) for q in qs]
    kth = sorted({r for low, high, _ in ranks for r in (low, high)})
    parted = np.partition(values, kth)
    return tuple(
        interpolate(float(parted[low]), float(parted[high]), weight) for low, high, weight in ranks
    )
