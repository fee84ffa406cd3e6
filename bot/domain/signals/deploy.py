"""A deploy signal taken in: the release it is about, and what it means for that release.

The signal's meaning (trigger → event, the steps from the release's state) is
`bot.domain.signals.mapping`; here it is applied. `take_deploy_signal` is the whole use case
a webhook route calls once it has claimed the delivery: find the release, read the service's
unrecovered failures, apply the signal in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.dependencies.graph import unmet_requirements
from bot.domain.freeze.book import FreezeBook
from bot.domain.freeze.calendar import FreezeCalendar
from bot.domain.ports import Ledger, LedgerFactory, ReleaseReader
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.model import Notice, Release
from bot.domain.release.recording import record_event, register_release
from bot.domain.release.restoration import record_restored, unrecovered
from bot.domain.release.revisions import release_at
from bot.domain.services.directory import Directory
from bot.domain.signals.mapping import (
    MAX_DETAIL,
    DeploySignal,
    Location,
    Source,
    is_sha,
    locate,
    manifest_from_signal,
    plan_steps,
    symptom_of,
    version_from_images,
)
from bot.domain.text import Code, Emoji, Text, text, truncate
from bot.domain.transactions import run_in_transaction

__all__ = [
    "Ignored",
    "SignalOutcome",
    "apply_deploy_signal",
    "find_release",
    "place_signal",
    "take_deploy_signal",
]

E = EventType


@dataclass(frozen=True)
class Ignored:
    """A signal Herald does not act on, and why (answered without claiming the delivery)."""

    reason: str


@dataclass(frozen=True)
class SignalOutcome:
    release_id: str | None
    created: bool = False
    recorded: tuple[EventType, ...] = ()
    noted: bool = False
    ignored: str | None = None  # why nothing was done
    restored: tuple[str, ...] = ()  # earlier failed releases this healthy deploy recovered

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "release": self.release_id,
            "created": self.created,
            "events": [e.value for e in self.recorded],
            "noted": self.noted,
        }
        if self.ignored:
            body["ignored"] = self.ignored
        if self.restored:
            body["restored"] = list(self.restored)
        return body


def place_signal(signal: DeploySignal, directory: Directory) -> Location | Ignored:
    """The service and env the signal is about, or why Herald ignores it."""
    if signal.event is None:
        return Ignored(f"trigger {signal.trigger} does not map to a release event")
    where = locate(signal, directory)
    if where is None:
        return Ignored(
            f"{signal.source.label} {signal.name} is in no service's environment in "
            "HERALD_CONFIG, and the payload names no service and env"
        )
    return where


async def take_deploy_signal(
    *,
    signal: DeploySignal,
    where: Location,
    releases: ReleaseReader,
    ledgers: LedgerFactory,
    clock: Callable[[], datetime],
    freezes: FreezeBook | None = None,
) -> SignalOutcome:
    """Find the signal's release and the service's unrecovered failures, then apply the
    signal in one transaction (`run_in_transaction`: again if a concurrent writer won).
    The freezes are read only when the signal may start the release (a start in one is
    marked): most signals are about releases long started."""
    found = await find_release(releases=releases, signal=signal, where=where)
    failed = await unrecovered(releases, service=where.service, env=where.env, now=clock())
    may_start = found is None or found.state in (None, E.PLANNED)
    calendar = await freezes.calendar(now=clock()) if freezes and may_start else None
    unmet = await unmet_requirements(releases, found) if found and may_start else []
    return await run_in_transaction(
        ledgers,
        lambda ledger: apply_deploy_signal(
            ledger=ledger,
            signal=signal,
            where=where,
            found=found,
            now=clock(),
            unrecovered=failed,
            freezes=calendar,
            unmet=unmet,
        ),
    )


async def find_release(
    *, releases: ReleaseReader, signal: DeploySignal, where: Location
) -> Release | None:
    """The release the signal is about: by commit (the manifest's `git.commit` is a prefix
    of Argo CD's revision), else by the image tag as version or commit; for a Rollout with
    neither, the newest release of the service and env if it is still on its way out."""
    service, env = where.service, where.env
    if signal.revision and is_sha(signal.revision):
        found = await release_at(releases, service=service, env=env, revision=signal.revision)
        if found is not None:
            return found
    tag = version_from_images(signal.images, service)
    if tag:
        for version in dict.fromkeys((tag, tag.removeprefix("v"))):
            found = await releases.by_version(service=service, env=env, version=version)
            if found is not None:
                return found
        if is_sha(tag) and len(tag) >= 7:
            found = await release_at(releases, service=service, env=env, revision=tag)
            if found is not None:
                return found
    if signal.source is Source.ROLLOUTS:
        latest = await releases.latest(service=service, env=env)
        if latest is not None and latest.state in (None, E.PLANNED, E.STARTED):
            return latest
    return None


async def apply_deploy_signal(
    *,
    ledger: Ledger,
    signal: DeploySignal,
    where: Location,
    found: Release | None,
    now: datetime,
    unrecovered: Sequence[Release] = (),
    freezes: FreezeCalendar | None = None,
    unmet: Sequence[str] = (),
) -> SignalOutcome:
    """Record what `signal` means for its release, creating the release from Argo CD's
    data if CI sent no manifest; a healthy deploy also recovers the service's `unrecovered`
    releases. One transaction; never raises for an out-of-order signal."""
    target = signal.event
    if target is None:
        return SignalOutcome(None, ignored=f"trigger {signal.trigger} is not mapped")
    release = await ledger.get_release(found.id) if found is not None else None
    created = False
    if release is None:
        manifest = manifest_from_signal(signal, where, now)
        if manifest is None:
            return SignalOutcome(
                None,
                ignored=(
                    f"no release of {where.service} {where.env} matches {signal.source.label} "
                    f"{signal.name}; post its manifest first"
                ),
            )
        release = await ledger.get_release(manifest.id)
        if release is None:
            release = (await register_release(ledger=ledger, manifest=manifest, now=now)).release
            created = True
    steps = plan_steps(release.state, target)
    recorded: list[EventType] = []
    for step in steps.events:
        request = _event_request(signal, step, target=target, now=now)
        outcome = await record_event(
            ledger=ledger,
            release_id=release.id,
            request=request,
            now=now,
            freezes=freezes,
            unmet=unmet,
        )
        release = outcome.release
        if outcome.created:
            recorded.append(step)
    if steps.note:
        await ledger.enqueue([Notice.note(release, _late_note(signal, release))])
    restored: tuple[str, ...] = ()
    if target is E.DEPLOYED and release.state in (E.DEPLOYED, E.RECOVERED):
        how = f"{signal.source.label} deployed {signal.name}" + (
            f" @ {signal.short_revision}" if signal.short_revision else ""
        )
        at = _time_of(signal, E.DEPLOYED, now)
        restored = await record_restored(
            ledger=ledger, candidates=unrecovered, by=release, how=how, at=at, now=now
        )
    return SignalOutcome(release.id, created, tuple(recorded), steps.note, restored=restored)


def _event_request(
    signal: DeploySignal, step: EventType, *, target: EventType, now: datetime
) -> EventRequest:
    implied = step is not target and not (step is E.RECOVERED and target is E.DEPLOYED)
    details: dict[str, object] = {
        "event": step,
        "at": _time_of(signal, step, now),
        "links": dict(signal.links),
    }
    if step is E.FAILED:
        details["symptom"] = _detail(symptom_of(signal))
    if step is E.ROLLED_BACK:
        details["reason"] = _detail(symptom_of(signal))
    elif implied:
        details["reason"] = _detail(
            f"implied: {signal.source.label} sent {signal.trigger} for {signal.name}"
        )
    elif step is E.RECOVERED:
        details["reason"] = _detail(
            f"{signal.source.label} reports {signal.name} deployed and healthy again"
        )
    return EventRequest.model_validate(details)


def _time_of(signal: DeploySignal, step: EventType, now: datetime) -> datetime:
    """When it happened: the sync's start for started, its end for a finished sync, else now."""
    if step is E.STARTED:
        return signal.started_at or now
    if signal.trigger in ("on-deployed", "on-sync-failed") and signal.finished_at is not None:
        return signal.finished_at
    return now


def _detail(text: str) -> str | None:
    cleaned = " ".join(text.split())
    return truncate(cleaned, MAX_DETAIL) if cleaned else None


def _late_note(signal: DeploySignal, release: Release) -> Text:
    state = release.state.short if release.state else "unrecorded"
    where = signal.name + (f" @ {signal.short_revision}" if signal.short_revision else "")
    return text(
        Emoji("information_source"),
        f" {signal.source.label} ",
        Code(signal.trigger),
        f" for {where} after the release was {state}: ",
        truncate(" ".join(symptom_of(signal).split()), MAX_DETAIL),
    )
