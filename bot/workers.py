"""The background work of a running Herald, started with the app and stopped with it: the
outbox senders (Slack, PagerDuty), the checkup clock, and the periodic jobs it also times —
the early watch's tick, the reports, the resumers of cut-short commands and rollbacks, the
on-call commander and retention. Each job's period, last success and failures are on
`/metrics` (bot/scheduling.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from aiohttp import web

from bot.catalog import Catalog, auto_rollback_enabled
from bot.core import Core
from bot.domain.approval.desk import post_approval_requests
from bot.domain.checkup.run import CheckupRunner
from bot.domain.deploy.commander import CommanderJob
from bot.domain.incident.retro import RetroReminders
from bot.domain.reports.schedule import ReportSchedule
from bot.domain.signals.alert_rollback import resume_alert_rollbacks
from bot.factories import (
    build_judge,
    build_metrics_source,
    build_retention_policy,
    build_watch_runner,
)
from bot.integrations.page_delivery import PageDelivery
from bot.observability import METRICS
from bot.reports.dms import DmNotifier
from bot.reports.flag_owners import FlagOwnerReminders
from bot.reports.freezes import FreezeAnnouncer
from bot.reports.jobs import DigestReport, WeeklyReport
from bot.reports.periods import Report, ScheduledReport
from bot.scheduling import CheckupClock
from bot.settings import Settings
from bot.slack.command_queue import CommandQueue, this_process
from bot.slack.delivery import SlackDelivery
from bot.slack.digest import digest_message
from bot.slack.dms import dm_message
from bot.slack.freezes import freeze_message
from bot.slack.home_refresh import HomeViewers
from bot.store import outbox
from bot.store.database import Database
from bot.store.retention import RetentionJob
from bot.wakeups import sleep_until_woken
from bot.watching import JOB_ID as WATCH_JOB
from bot.watching import WatchTicker

log = logging.getLogger(__name__)
ROLLBACK_GRACE = timedelta(minutes=2)  # an alert's rollback unfinished after this was cut short
DIGESTS_CAUGHT_UP, WEEKLIES_CAUGHT_UP = 7, 2  # missed periods still sent late, at most
Clock = Callable[[], datetime]
COMMANDER = web.AppKey("herald_commander", CommanderJob)  # names on-calls; tests run it
RETROS = web.AppKey("herald_retros", RetroReminders)  # retro reminders; tests run it
HOMES = web.AppKey("herald_homes", HomeViewers)  # open Home tabs kept current; tests run it
DMS = web.AppKey("herald_dms", DmNotifier)  # DMs about releases, each once; tests run it
FLAG_OWNERS = web.AppKey("herald_flag_owners", FlagOwnerReminders)  # weekly; tests run it
RETENTION = web.AppKey("herald_retention", RetentionJob)  # prunes the inbox and the outbox
RETENTION_EVERY = 3600.0  # seconds; the first run is at start-up
COMMANDS = web.AppKey("herald_commands", CommandQueue)  # kept commands, carried out once


async def start_workers(
    stack: contextlib.AsyncExitStack,
    app: web.Application,
    settings: Settings,
    *,
    catalog: Catalog,
    core: Core,
    clock: Clock,
    nudged: asyncio.Event | None = None,
) -> None:
    """The outbox senders, the checkup clock and the periodic jobs; all stop with the app.
    `nudged` (a worker of `herald serve --workers N`): set when the server recorded work."""
    if core.database.sqlite:
        await outbox.release_stale_claims(database=core.database)
    for worker in (core.delivery, core.pages):
        task = asyncio.create_task(worker.run(), name=type(worker).__name__)
        stack.push_async_callback(_stop, worker, task)
    metrics = build_metrics_source(settings, core.http)
    runner = CheckupRunner(
        judge=build_judge(catalog, metrics),
        operations=core.ops,
        clock=clock,
        auto_rollback_for=lambda service, env: auto_rollback_enabled(catalog, service),
    )
    checkups = CheckupClock(
        database=core.database,
        runner=runner,
        clock=clock,
        interval_seconds=settings.checkup_interval_seconds,
        concurrency=settings.checkup_concurrency,
        max_attempts=settings.checkup_max_attempts,
        jobs=app[METRICS],
    )
    _add_jobs(checkups, app, settings, core=core, clock=clock)
    _add_retention(checkups, app, settings, database=core.database, clock=clock)
    if (watcher := build_watch_runner(catalog, metrics, core.ops)) is not None:
        ticker = WatchTicker(
            database=core.database,
            runner=watcher,
            clock=clock,
            concurrency=settings.checkup_concurrency,
        )
        checkups.add_interval(ticker.tick, seconds=settings.watch_tick_seconds, job_id=WATCH_JOB)
    checkups.start()
    stack.push_async_callback(checkups.stop)
    claiming = asyncio.create_task(app[COMMANDS].claim_as_slots_free(), name="herald-claims")
    stack.push_async_callback(_cancel, claiming)
    if nudged is not None:
        task = asyncio.create_task(_answer_nudges(nudged, core=core, queue=app[COMMANDS]))
        stack.push_async_callback(_cancel, task)


async def _answer_nudges(nudged: asyncio.Event, *, core: Core, queue: CommandQueue) -> None:
    """The server recorded work: claim commands now, and let the senders look."""
    while True:
        await sleep_until_woken(nudged, seconds=queue.renew_every)
        nudged.clear()
        core.delivery.wake()
        core.pages.wake()
        try:
            await queue.sweep()
        except Exception:
            log.exception("could not claim commands from the inbox; trying again")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _add_jobs(
    checkups: CheckupClock,
    app: web.Application,
    settings: Settings,
    *,
    core: Core,
    clock: Clock,
) -> None:
    """Reports on their schedules; claiming kept commands (those cut short by a crash, and
    with `--workers` every one); announcing freezes; and what people are owed."""
    every = settings.checkup_interval_seconds * 6  # 30 s by default
    for report in _reports(settings, core=core, clock=clock):
        checkups.add_interval(report.run, seconds=every, job_id=f"herald-{report.report.kind}")
    app[COMMANDS] = CommandQueue(
        database=core.database,
        ops=core.ops,
        tasks=core.tasks,
        clock=clock,
        responder=core.responder,
        worker=this_process(),
        grace=timedelta(seconds=settings.resume_grace_seconds),
        outcome=app[METRICS].command_done,
    )
    commands = app[COMMANDS]
    checkups.add_interval(commands.sweep, seconds=commands.renew_every, job_id="herald-resume")
    resume_rollbacks = partial(resume_alert_rollbacks, core.ops, older_than=ROLLBACK_GRACE)
    checkups.add_interval(resume_rollbacks, seconds=every, job_id="herald-alert-rollbacks")
    if settings.feed_channel:
        announcer = FreezeAnnouncer(
            freezes=core.ops.freezes,
            channel=settings.feed_channel,
            database=core.database,
            render=freeze_message,
            clock=clock,
            wake=core.delivery.wake,
        )
        checkups.add_interval(announcer.run, seconds=every, job_id="herald-freezes")
    _add_people_jobs(checkups, app, settings, core=core, clock=clock)


def _add_people_jobs(
    checkups: CheckupClock,
    app: web.Application,
    settings: Settings,
    *,
    core: Core,
    clock: Clock,
) -> None:
    """What Herald owes people: approval requests, DMs about their releases and flags, open
    Home tabs kept current, retro reminders, on-call commanders."""
    every = settings.checkup_interval_seconds * 6  # 30 s by default
    if any(entry.approvals for entry in core.ops.directory.services.values()):
        requests = partial(post_approval_requests, core.ops)
        checkups.add_interval(
            requests, seconds=settings.checkup_interval_seconds, job_id="herald-approval-requests"
        )
    if core.ops.dms is not None:
        app[DMS] = DmNotifier(
            ops=core.ops,
            book=core.ops.dms,
            database=core.database,
            render=dm_message,
            wake=core.delivery.wake,
        )
        checkups.add_interval(
            app[DMS].run, seconds=settings.checkup_interval_seconds, job_id="herald-dms"
        )
    app[FLAG_OWNERS] = FlagOwnerReminders(
        database=core.database, clock=clock, wake=core.delivery.wake
    )
    checkups.add_interval(app[FLAG_OWNERS].run, seconds=every * 60, job_id="herald-flag-owners")
    app[HOMES] = core.homes
    checkups.add_interval(core.homes.refresh, seconds=every, job_id="herald-homes")
    app[RETROS] = RetroReminders(
        ops=core.ops, after=timedelta(seconds=settings.retro_after_seconds)
    )
    checkups.add_interval(app[RETROS].run, seconds=every, job_id="herald-retros")
    if core.ops.oncall is not None:
        app[COMMANDER] = CommanderJob(ops=core.ops, oncall=core.ops.oncall)
        checkups.add_interval(app[COMMANDER].run, seconds=10, job_id="herald-commander")


def _reports(settings: Settings, *, core: Core, clock: Clock) -> list[ScheduledReport]:
    """The digest and the weekly report where they have a channel: each period sent once,
    through the outbox; one missed while Herald was down is sent late on start."""
    reports: list[tuple[Report, ReportSchedule, str]] = []
    if settings.digest_channel:
        digest = DigestReport(database=core.database, render=digest_message)
        schedule = ReportSchedule.daily(settings.digest_at, catch_up=DIGESTS_CAUGHT_UP)
        reports.append((digest, schedule, settings.digest_channel))
    if settings.feed_channel and settings.weekly_report_at:
        weekly = WeeklyReport(database=core.database)
        schedule = ReportSchedule.weekly(settings.weekly_report_at, catch_up=WEEKLIES_CAUGHT_UP)
        reports.append((weekly, schedule, settings.feed_channel))
    return [
        ScheduledReport(
            report=report,
            schedule=schedule,
            channel=channel,
            database=core.database,
            audit=core.ops.audit,
            clock=clock,
            wake=core.delivery.wake,
        )
        for report, schedule, channel in reports
    ]


def _add_retention(
    checkups: CheckupClock,
    app: web.Application,
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
) -> None:
    """Hourly, the inbox and outbox rows past their retention are pruned in small batches."""
    app[RETENTION] = RetentionJob(
        database=database,
        policy=build_retention_policy(settings),
        clock=clock,
        count=app[METRICS].rows_pruned,
    )
    checkups.add_interval(app[RETENTION].run, seconds=RETENTION_EVERY, job_id="herald-retention")


async def _stop(worker: SlackDelivery | PageDelivery, task: asyncio.Task[None]) -> None:
    """Ask a worker to stop after the message in hand (cancelling it mid-write could leave
    a SQLite transaction open); cancel it if it has not stopped within 10 s."""
    worker.stop()
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:
        log.error("worker %s did not stop within 10 s of shutdown; cancelled", task.get_name())
        task.cancel()
        await asyncio.wait({task}, timeout=10)
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.error("worker %s had failed", task.get_name(), exc_info=error)
