"""One person's Home tab, as data: releases in flight with their verdicts, their services,
open incidents and who commands them, approvals waiting for them, freezes in force, and a
DORA summary of their services. Each release with a link to its thread."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.deploy.context import Operations
from bot.domain.dora.window import DoraWindow
from bot.domain.freeze.window import Occurrence
from bot.domain.release.model import Release
from bot.domain.services.access import owns
from bot.domain.services.directory import ServiceEntry

SHOWN = 15  # releases in each list
DORA_SERVICES = 5
INCIDENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Line:
    """A release on the Home tab: what to say of it and where its thread is."""

    release: Release
    note: str  # the verdict, what the approval needs
    link: str | None
    who: str | None = None  # a person the line names (the incident's commander)


@dataclass(frozen=True)
class ServiceFigures:
    service: str
    deploys: int
    change_failure_rate: float | None


@dataclass(frozen=True)
class HomeScreen:
    user: str
    services: tuple[str, ...]
    in_flight: tuple[Line, ...]
    incidents: tuple[Line, ...]
    approvals: tuple[Line, ...]
    freezes: tuple[Occurrence, ...]
    dora: tuple[ServiceFigures, ...]
    dms: bool | None = None  # DMs about their releases on; None: not offered here


@dataclass(frozen=True)
class HomeBoard:
    """What every Home tab shows alike: releases in flight, open incidents, freezes in force.
    Read once for all the Homes one refresh publishes."""

    in_flight: tuple[Line, ...]
    incidents: tuple[Line, ...]
    freezes: tuple[Occurrence, ...]


async def build_board(ops: Operations) -> HomeBoard:
    now = ops.clock()
    calendar = await ops.freezes.calendar(now=now)
    frozen = [o for o in calendar.between(None, None, start=now, end=now) if o.covers(now)]
    in_flight, incidents = await asyncio.gather(_in_flight(ops), _incidents(ops))
    return HomeBoard(in_flight, incidents, tuple(frozen))


async def build_home(
    ops: Operations,
    *,
    user: str,
    board: HomeBoard | None = None,
    figures: dict[str, ServiceFigures] | None = None,
) -> HomeScreen:
    """`user`'s Home; `board` and a service's `figures` (DORA), when given, are reused:
    one refresh reads them once for everyone it publishes."""
    services = await _services_of(ops, user)
    shared = board or await build_board(ops)
    approvals, dora = await asyncio.gather(
        _approvals(ops, user),
        _dora(ops, services[:DORA_SERVICES], {} if figures is None else figures),
    )
    dms = await ops.dms.subscribed(user) if ops.dms is not None else None
    return HomeScreen(
        user,
        tuple(services),
        shared.in_flight,
        shared.incidents,
        approvals,
        shared.freezes,
        dora,
        dms,
    )


async def switch_dms(ops: Operations, *, user: str, on: bool) -> None:
    """`user` asks for DMs about their releases, or no longer."""
    if ops.dms is None:
        return
    if on:
        await ops.dms.subscribe(user, at=ops.clock())
    else:
        await ops.dms.unsubscribe(user)


async def _services_of(ops: Operations, user: str) -> list[str]:
    """The services `user` owns or administers, directly or through a user group."""
    entries = sorted(ops.directory.services.values(), key=lambda entry: entry.name)
    return [e.name for e in entries if await owns(user, e, ops.groups)]


async def _line(
    ops: Operations, release: Release, note: str, role: str, who: str | None = None
) -> Line:
    links = await ops.releases.message_links(release.id)
    return Line(release, note, links.get(role) or links.get("feed_root"), who)


async def _in_flight(ops: Operations) -> tuple[Line, ...]:
    found = []
    for release in (await ops.releases.in_flight(now=ops.clock()))[:SHOWN]:
        summary = await ops.releases.checkup_summary(release.id)
        verdict = summary.last_color.value if summary.last_color else "no verdict yet"
        state = release.state.value.removeprefix("release.") if release.state else "planned"
        found.append(await _line(ops, release, f"{state} · {verdict}", "feed_root"))
    return tuple(found)


async def _incidents(ops: Operations) -> tuple[Line, ...]:
    found = []
    failed = await ops.releases.failed_unrecovered(since=ops.clock() - INCIDENT_WINDOW)
    for release in failed[:SHOWN]:
        incident = await ops.releases.incident(release.id)
        commander = incident.commander if incident and incident.commander else None
        note = "commanded by" if commander else "no commander yet"
        found.append(await _line(ops, release, note, "ops_root", who=commander))
    return tuple(found)


async def _approvals(ops: Operations, user: str) -> tuple[Line, ...]:
    found = []
    for release_id in await ops.releases.waiting_approvals():
        release = await ops.releases.by_id(release_id)
        policy = ops.directory.approval_policy(release.service) if release else None
        if release is None or policy is None or user in (release.owner, release.manifest.author):
            continue
        entry = ServiceEntry(release.service, owners=policy.approvers)
        approval = await ops.releases.approval_of(release_id)
        voted = approval is not None and approval.vote_of(user) is not None
        if not voted and await owns(user, entry, ops.groups):
            need = approval.need.describe() if approval else "approval"
            found.append(await _line(ops, release, f"needs {need}", "approval_request"))
        if len(found) >= SHOWN:
            break
    return tuple(found)


async def _dora(
    ops: Operations, services: list[str], figures: dict[str, ServiceFigures]
) -> tuple[ServiceFigures, ...]:
    """Each service's 30 days, from `figures` when it was read already (and kept there)."""
    if ops.dora is None:
        return ()
    window = DoraWindow.including(ops.clock(), timedelta(days=30))  # holds this moment
    for service in (s for s in services if s not in figures):
        report = await ops.dora(window=window, service=service, env=None)
        cfr = report.change_failure_rate
        figures[service] = ServiceFigures(service, report.deploy_frequency_per_day.count, cfr.value)
    return tuple(figures[service] for service in services)
