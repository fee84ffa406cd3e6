"""DORA from Herald's store: `dora_report`, computed in bot/store/dora_windows.py.

That module works on numpy arrays; numpy (with its BLAS) is ~12 MB of resident memory and
most servers never draw a DORA report between restarts, so it is imported with the first
report rather than when Herald starts (bench/startup.py measures the idle server).
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.dora.report import DoraReport
from bot.domain.dora.window import DoraWindow
from bot.store.database import Database
from bot.store.dora_rehearsals import rehearsed_figure


async def dora_report(
    database: Database,
    *,
    window: DoraWindow,
    service: str | None = None,
    env: str | None = None,
    compare: bool = True,
) -> DoraReport:
    """DORA for one service (or all) and env (or all) in `window`, and the window before it
    for the trend (unless `compare` is False)."""
    from bot.store.dora_windows import window_report

    report = await window_report(database, window=window, service=service, env=env, compare=compare)
    previous = report.previous
    if previous is not None:
        before = await rehearsed_figure(database, window=previous.window, service=service, env=env)
        previous = replace(previous, rollback_rehearsed_rate=before)
    now = await rehearsed_figure(database, window=window, service=service, env=env)
    return replace(report, rollback_rehearsed_rate=now, previous=previous)
