"""Use cases: register a manifest, record a lifecycle event. Written against ports only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.approval.policy import Need
from bot.domain.checkup.offsets import offset_label
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.freeze.notices import describe_freeze, started_in_freeze
from bot.domain.paging import ChangeEvent
from bot.domain.ports import Ledger
from bot.domain.release.events import EventPayload, EventRequest
from bot.domain.release.lifecycle import EventType, is_legal, legal_next
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Notice, RecordedEvent, Release
from bot.domain.release.notices import notices_for, started_unmet
from bot.domain.text import display_version, text
from bot.domain.watch.watch import WatchPurpose
from bot.errors import Conflict, FieldProblem, NotFound


@dataclass(frozen=True)
class Outcome:
    """What a use case did: `created` is False when the request repeated an earlier one."""

    release: Release
    event: RecordedEvent
    created: bool


async def register_release(
    *, ledger: Ledger, manifest: Manifest, now: datetime, need: Need | None = None
) -> Outcome:
    """Store a new release and announce it as planned; the same manifest twice is one release.
    A release that `need`s approval gets its approval request opened with it."""
    digest = manifest.digest()
    existing = await ledger.get_release(manifest.id)
    if existing is not None:
        if existing.digest != digest:
            raise Conflict(
                f"release {manifest.id} already exists with a different manifest; "
                "publish the change under a new id",
                details=[FieldProblem("id", "already used by a different manifest")],
            )
        first = await ledger.get_event(release_id=manifest.id, event=EventType.PLANNED)
        assert first is not None, "a stored release always has its planned event"
        return Outcome(existing, first, created=False)
    release = Release(manifest=manifest, digest=digest, received_at=now)
    request = EventRequest(event=EventType.PLANNED, at=manifest.created_at)
    outcome = await _apply(ledger=ledger, release=release, request=request, now=now, new=True)
    if need is not None:
        await ledger.open_approval(release_id=release.id, need=need)
    return outcome


async def record_event(
    *,
    ledger: Ledger,
    release_id: str,
    request: EventRequest,
    now: datetime,
    freezes: FreezeCalendar | None = None,
    unmet: Sequence[str] = (),
) -> Outcome:
    """Advance a release by one lifecycle event; a repeated event is acknowledged, not re-sent.
    A start while one of `freezes` holds the release is marked (`during_freeze`) and said; so
    is a start while what it requires does not run where it needs it (`unmet`, its words)."""
    release = await ledger.get_release(release_id)
    if release is None:
        raise NotFound(f"no release with id {release_id}; post its manifest first")
    repeat = await _find_repeat(ledger=ledger, release_id=release_id, request=request)
    if repeat is not None:
        return Outcome(release, repeat, created=False)
    if not is_legal(release.state, request.event):
        allowed = [e.value for e in legal_next(release.state)]
        state = release.state.value if release.state else "unrecorded"
        raise Conflict(
            f"release {release_id} is at {state}; {request.event.value} cannot follow it. "
            f"Legal next events: {', '.join(allowed) or 'none (the release is closed)'}",
            details=[FieldProblem("event", f"expected one of: {', '.join(allowed) or 'none'}")],
        )
    return await _apply(
        ledger=ledger,
        release=release,
        request=request,
        now=now,
        new=False,
        freezes=freezes,
        unmet=unmet,
    )


async def _find_repeat(
    *, ledger: Ledger, release_id: str, request: EventRequest
) -> RecordedEvent | None:
    if request.idempotency_key:
        prior = await ledger.find_event_by_key(request.idempotency_key)
        if prior is not None:
            if prior.release_id != release_id or prior.type != request.event:
                raise Conflict(
                    f"idempotency_key {request.idempotency_key!r} was already used for "
                    f"{prior.type.value} of release {prior.release_id}",
                    details=[FieldProblem("idempotency_key", "already used for another event")],
                )
            return prior
    return await ledger.get_event(release_id=release_id, event=request.event)


async def _apply(
    *,
    ledger: Ledger,
    release: Release,
    request: EventRequest,
    now: datetime,
    new: bool,
    freezes: FreezeCalendar | None = None,
    unmet: Sequence[str] = (),
) -> Outcome:
    at = request.at or now
    details = request.details()
    frozen = None
    starts = request.event is EventType.STARTED
    if starts and freezes is not None:
        frozen = next(iter(freezes.holding(release.service, release.env, at=at)), None)
        if frozen is not None:
            details["during_freeze"] = describe_freeze(frozen)
    if starts and unmet:
        details["requires_unmet"] = list(unmet)
    lead_time = _lead_time(release, request, at)
    if request.event is EventType.DEPLOYED and lead_time is not None:
        details["lead_time_seconds"] = lead_time
    failed_at = release.times.get(EventType.FAILED)
    if request.event is EventType.RECOVERED and failed_at is not None:
        details["mttr_seconds"] = max(0.0, (at - failed_at).total_seconds())
    advanced = release.advanced(request.event, at, lead_time=lead_time, links=dict(request.links))
    payload = EventPayload.build(
        event=request.event,
        release_id=release.id,
        service=release.service,
        env=release.env,
        version=release.version,
        owner=release.owner,
        at=at,
        links=advanced.links(),
        details=details,
    )
    event = RecordedEvent(
        release_id=release.id,
        type=request.event,
        at=at,
        payload=payload,
        received_at=now,
        idempotency_key=request.idempotency_key,
    )
    if new:
        await ledger.add_release(advanced)
    else:
        await ledger.save_release(advanced)
    await ledger.add_event(event)
    await ledger.enqueue(notices_for(release=advanced, payload=payload, first=new))
    if frozen is not None:
        await ledger.enqueue(started_in_freeze(advanced, frozen))
    if starts and unmet:
        await ledger.enqueue([started_unmet(advanced, unmet)])
    await _follow_up(ledger, release=advanced, event=request.event, at=at, now=now)
    return Outcome(advanced, event, created=True)


async def _follow_up(
    ledger: Ledger, *, release: Release, event: EventType, at: datetime, now: datetime
) -> None:
    """Started (a canary) or deployed: watch its first minutes. Deployed: plan checkups
    (superseding older ones) and put the deploy on the service's PagerDuty timeline. Rolled
    back: watch for recovery. Recovered: resolve the page."""
    if event in (EventType.STARTED, EventType.DEPLOYED):
        await ledger.start_watch(release=release, purpose=WatchPurpose.RELEASE, origin=at)
    elif event is EventType.ROLLED_BACK:
        await ledger.start_watch(release=release, purpose=WatchPurpose.RECOVERY, origin=at)
    if event is EventType.DEPLOYED:
        deadline = now + timedelta(minutes=15)
        await ledger.enqueue_change(
            release_id=release.id, change=deploy_change(release), deadline=deadline
        )
        await _recover_fixed(ledger, release=release, at=at, now=now)
        superseded = await ledger.schedule_checkups(release=release, deployed_at=at)
        for older_id, offsets in superseded:
            older = await ledger.get_release(older_id)
            if older is not None:
                labels = ", ".join(offset_label(o) for o in offsets)
                note = text(
                    f"Checkups {labels} of {older.id} were cancelled: {release.id} "
                    f"({display_version(release.version)}) superseded it."
                )
                await ledger.enqueue([Notice.note(older, note)])
    elif event is EventType.RECOVERED:
        await ledger.resolve_pages(release_id=release.id, deadline=now + timedelta(minutes=15))


async def _recover_fixed(ledger: Ledger, *, release: Release, at: datetime, now: datetime) -> None:
    """`release` deployed: each failed release whose incident named it the fix forward has
    recovered with it."""
    for failed_id in await ledger.fixed_by(release):
        failed = await ledger.get_release(failed_id)
        if failed is None or not is_legal(failed.state, EventType.RECOVERED):
            continue
        request = EventRequest(event=EventType.RECOVERED, at=at, actor=f"fix forward {release.id}")
        outcome = await record_event(ledger=ledger, release_id=failed_id, request=request, now=now)
        said = text(
            f"Recovered: its fix forward {release.id} ({display_version(release.version)})"
            " deployed."
        )
        await ledger.enqueue([Notice.note(outcome.release, said)])


def deploy_change(release: Release) -> ChangeEvent:
    """The deploy as a PagerDuty change event, in the feed template's words."""
    manifest = release.manifest
    summary = f"release.deployed | {release.service} | {release.env} | " + (
        f"{display_version(release.version)} ({release.id})"
    )
    changes = [f"{c.type}: {c.summary}" for c in manifest.changes[:10]]
    if len(manifest.changes) > 10:
        changes.append(f"…and {len(manifest.changes) - 10} more")
    details: dict[str, object] = {
        "release": release.id,
        "version": release.version,
        "commit": manifest.git.commit,
        "owner": release.owner,
        "changes": changes,
    }
    links = tuple((url, name) for name, url in release.links().items())[:5]
    return ChangeEvent(
        summary=summary,
        source=f"herald/{release.service}/{release.env}",
        links=links,
        custom_details=details,
    )


def _lead_time(release: Release, request: EventRequest, at: datetime) -> float | None:
    if request.event is not EventType.DEPLOYED:
        return None
    if request.lead_time_seconds is not None:
        return request.lead_time_seconds
    first_commit = release.manifest.earliest_commit_at()
    return max(0.0, (at - first_commit).total_seconds()) if first_commit else None
