"""Argo CD and Argo Rollouts notifications, read as lifecycle events of the matching release.

Trigger → event:

| source        | trigger                  | event                 | symptom from            |
| ------------- | ------------------------ | --------------------- | ----------------------- |
| Argo CD       | `on-sync-running`        | release.started       |                         |
| Argo CD       | `on-deployed`            | release.deployed      |                         |
| Argo CD       | `on-sync-failed`         | release.failed        | the operation message   |
| Argo CD       | `on-health-degraded`     | release.failed        | the health message      |
| Argo Rollouts | `on-rollout-completed`   | release.deployed      |                         |
| Argo Rollouts | `on-rollout-aborted`     | release.rolled_back   | the rollout message     |
| Argo Rollouts | `on-analysis-run-failed` | release.failed        | the analysis run status |

Webhooks arrive late, twice, or out of order, and CI may never have said `started`. So the
event is not recorded blindly: `plan_steps` turns "the release is at X, Argo says Y" into
the events a release manager expects (see its table), recording the implied ones first
(deployed before started records started, then deployed), and a signal that comes after
the release moved past it becomes a note in the release's thread instead of an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.ports import Ledger, ReleaseReader
from bot.domain.release.events import EventRequest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Notice, Release
from bot.domain.release.recording import record_event, register_release
from bot.domain.release.restoration import record_restored
from bot.domain.services.directory import Directory
from bot.domain.text import escape_mrkdwn, truncate

__all__ = [
    "ARGOCD_TRIGGERS",
    "ROLLOUTS_TRIGGERS",
    "DeploySignal",
    "Location",
    "SignalOutcome",
    "Source",
    "Steps",
    "apply_deploy_signal",
    "derived_release_id",
    "find_release",
    "locate",
    "manifest_from_signal",
    "plan_steps",
    "symptom_of",
    "version_from_images",
]

E = EventType
MAX_DETAIL = 500
UNKNOWN_OWNER = "unknown"
_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
_NOT_ID = re.compile(r"[^A-Za-z0-9._:-]+")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9._:/@+-]+")


class Source(StrEnum):
    ARGOCD = "argocd"
    ROLLOUTS = "rollouts"

    @property
    def label(self) -> str:
        return "Argo CD" if self is Source.ARGOCD else "Argo Rollouts"


ARGOCD_TRIGGERS: Mapping[str, EventType] = {
    "on-sync-running": E.STARTED,
    "on-deployed": E.DEPLOYED,
    "on-sync-failed": E.FAILED,
    "on-health-degraded": E.FAILED,
}
ROLLOUTS_TRIGGERS: Mapping[str, EventType] = {
    "on-rollout-completed": E.DEPLOYED,
    "on-rollout-aborted": E.ROLLED_BACK,
    "on-analysis-run-failed": E.FAILED,
}
_TRIGGERS = {Source.ARGOCD: ARGOCD_TRIGGERS, Source.ROLLOUTS: ROLLOUTS_TRIGGERS}


@dataclass(frozen=True)
class DeploySignal:
    """One notification, in plain types. `name` is the Application's or the Rollout's."""

    source: Source
    trigger: str
    name: str
    namespace: str | None = None
    revision: str | None = None  # the git revision Argo CD synced
    pod_hash: str | None = None  # the Rollout's current pod template hash
    images: tuple[str, ...] = ()
    service: str | None = None  # named by the template (labels), if it knows
    env: str | None = None
    argocd_app: str | None = None  # for a Rollout: the Argo CD app tracking it
    repo: str | None = None
    operation_message: str | None = None
    health_message: str | None = None
    rollout_message: str | None = None
    analysis_message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    links: Mapping[str, str] = field(default_factory=dict)

    @property
    def event(self) -> EventType | None:
        """The lifecycle event this trigger means; None for a trigger Herald does not map."""
        return _TRIGGERS[self.source].get(self.trigger)

    def inbox_key(self) -> str:
        """Argo CD: app + revision + trigger (docs/design.md). Rollouts: rollout + pod hash."""
        where = f"{self.namespace or ''}/{self.name}"
        if self.source is Source.ARGOCD:
            what = self.revision or ""
        else:
            what = self.pod_hash or ",".join(self.images)
        return f"{self.source.value}:{where}:{what}:{self.trigger}"

    @property
    def short_revision(self) -> str | None:
        return self.revision[:7] if self.revision else None


@dataclass(frozen=True)
class Location:
    """The service and environment a signal is about, and who owns it."""

    service: str
    env: str
    owner: str = UNKNOWN_OWNER


@dataclass(frozen=True)
class Steps:
    """What to record for a signal: events in order, or a note when it came too late."""

    events: tuple[EventType, ...] = ()
    note: bool = False


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


def locate(signal: DeploySignal, directory: Directory) -> Location | None:
    """The catalogue's `argocd_app` / `rollout` first, else the payload's service and env."""
    for entry in directory.services.values():
        for where in entry.envs.values():
            target = where.target
            if target is None:
                continue
            if signal.source is Source.ARGOCD:
                hit = target.app == signal.name and (
                    target.app_namespace is None
                    or signal.namespace is None
                    or target.app_namespace == signal.namespace
                )
            else:
                rollout = target.rollout
                hit = (
                    rollout is not None
                    and rollout.name == signal.name
                    and (signal.namespace is None or rollout.namespace == signal.namespace)
                ) or (signal.argocd_app is not None and target.app == signal.argocd_app)
            if hit:
                return Location(where.service, where.env, _owner(entry.owners))
    if signal.service and signal.env:
        known = directory.services.get(signal.service)
        return Location(signal.service, signal.env, _owner(known.owners if known else ()))
    return None


def _owner(owners: tuple[str, ...]) -> str:
    return owners[0] if owners else UNKNOWN_OWNER


def plan_steps(state: EventType | None, target: EventType) -> Steps:
    """The events that take a release at `state` to what the signal says (None: nothing).

    | state \\ signal | started | deployed          | failed          | rolled back           |
    | -------------- | ------- | ----------------- | --------------- | --------------------- |
    | planned        | started | started, deployed | started, failed | started, failed, r.b. |
    | started        | —       | deployed          | failed          | failed, rolled back   |
    | deployed       | —       | —                 | failed          | failed, rolled back   |
    | failed         | —       | recovered         | note            | rolled back           |
    | rolled back    | —       | recovered         | note            | —                     |
    | recovered      | —       | —                 | note            | note                  |

    "—" is a no-op (a repeat, or news the release is already past). A failure reported
    after the release failed or closed is a note in its thread: on-call wants to read it,
    the lifecycle has no event for it. The same revision synced and healthy after a
    failure means the release works again: recovered.
    """
    row = _PLAN.get(state or E.PLANNED, {})
    return row.get(target, Steps())


_PLAN: dict[EventType, dict[EventType, Steps]] = {
    E.PLANNED: {
        E.STARTED: Steps((E.STARTED,)),
        E.DEPLOYED: Steps((E.STARTED, E.DEPLOYED)),
        E.FAILED: Steps((E.STARTED, E.FAILED)),
        E.ROLLED_BACK: Steps((E.STARTED, E.FAILED, E.ROLLED_BACK)),
    },
    E.STARTED: {
        E.DEPLOYED: Steps((E.DEPLOYED,)),
        E.FAILED: Steps((E.FAILED,)),
        E.ROLLED_BACK: Steps((E.FAILED, E.ROLLED_BACK)),
    },
    E.DEPLOYED: {
        E.FAILED: Steps((E.FAILED,)),
        E.ROLLED_BACK: Steps((E.FAILED, E.ROLLED_BACK)),
    },
    E.FAILED: {
        E.DEPLOYED: Steps((E.RECOVERED,)),
        E.FAILED: Steps(note=True),
        E.ROLLED_BACK: Steps((E.ROLLED_BACK,)),
    },
    E.ROLLED_BACK: {
        E.DEPLOYED: Steps((E.RECOVERED,)),
        E.FAILED: Steps(note=True),
    },
    E.RECOVERED: {
        E.FAILED: Steps(note=True),
        E.ROLLED_BACK: Steps(note=True),
    },
}


def symptom_of(signal: DeploySignal) -> str:
    """What went wrong, in the words of the tool that saw it."""
    label = signal.source.label
    match signal.trigger:
        case "on-sync-failed":
            detail = signal.operation_message
            head = f"{label} sync failed"
        case "on-health-degraded":
            detail = signal.health_message
            head = f"{label} reports health Degraded"
        case "on-analysis-run-failed":
            detail = signal.analysis_message or signal.rollout_message
            head = "canary analysis failed"
        case "on-rollout-aborted":
            detail = signal.rollout_message
            head = "rollout aborted"
        case _:
            detail = signal.operation_message or signal.health_message
            head = f"{label} {signal.trigger}"
    return f"{head}: {detail}" if detail else head


def version_from_images(images: tuple[str, ...], service: str) -> str | None:
    """The tag of the service's image (`ghcr.io/acme/webapp:1.42.0` → `1.42.0`), else the first."""
    tagged = [(name, tag) for name, tag in map(_split_image, images) if tag]
    mine = [tag for name, tag in tagged if name.rsplit("/", 1)[-1] == service]
    chosen = mine or [tag for _, tag in tagged]
    return chosen[0] if chosen else None


def _split_image(image: str) -> tuple[str, str | None]:
    ref = image.split("@", 1)[0]
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, None
    return name, tag or None


def _is_sha(value: str | None) -> bool:
    return value is not None and _SHA.match(value) is not None


async def find_release(
    *, releases: ReleaseReader, signal: DeploySignal, where: Location
) -> Release | None:
    """The release the signal is about: by commit (the manifest's `git.commit` is a prefix
    of Argo CD's revision), else by the image tag as version or commit; for a Rollout with
    neither, the newest release of the service and env if it is still on its way out."""
    service, env = where.service, where.env
    if signal.revision and _is_sha(signal.revision):
        found = await _by_commit(releases, service, env, signal.revision)
        if found is not None:
            return found
    tag = version_from_images(signal.images, service)
    if tag:
        for version in dict.fromkeys((tag, tag.removeprefix("v"))):
            found = await releases.by_version(service=service, env=env, version=version)
            if found is not None:
                return found
        if _is_sha(tag) and len(tag) >= 7:
            found = await _by_commit(releases, service, env, tag)
            if found is not None:
                return found
    if signal.source is Source.ROLLOUTS:
        latest = await releases.latest(service=service, env=env)
        if latest is not None and latest.state in (None, E.PLANNED, E.STARTED):
            return latest
    return None


async def _by_commit(
    releases: ReleaseReader, service: str, env: str, revision: str
) -> Release | None:
    revision = revision.lower()
    for prefix in dict.fromkeys((revision[:7], revision[:4])):
        found = await releases.by_commit(service=service, env=env, sha_prefix=prefix)
        if found is not None and revision.startswith(found.manifest.git.commit.lower()):
            return found
    return None


def derived_release_id(signal: DeploySignal) -> str | None:
    """`argo-<app>-<revision[:7]>` for a release Herald learns of from Argo CD alone."""
    if signal.source is not Source.ARGOCD or not _is_sha(signal.revision):
        return None
    raw = f"argo-{signal.name}-{(signal.short_revision or '').lower()}"
    return _NOT_ID.sub("-", raw).strip("-.:")[:128]


def manifest_from_signal(signal: DeploySignal, where: Location, now: datetime) -> Manifest | None:
    """A manifest built from Argo CD's data, for a release CI never announced.

    Only Argo CD knows the git revision a release needs; a Rollout alone (or a Helm chart
    version) cannot name one, so it makes no release.
    """
    release_id = derived_release_id(signal)
    if release_id is None or signal.revision is None:
        return None
    tag = version_from_images(signal.images, where.service)
    version = _NOT_TOKEN.sub("-", tag or signal.revision[:7]).lstrip("-._:/@+")[:128]
    links = dict(signal.links)
    return Manifest.model_validate(
        {
            "id": release_id,
            "version": version or signal.revision[:7],
            "env": where.env,
            "service": where.service,
            "git": {
                "repo": truncate(signal.repo or f"argocd/{signal.name}", MAX_DETAIL),
                "commit": signal.revision.lower(),
            },
            "owner": _NOT_TOKEN.sub("-", where.owner)[:128] or UNKNOWN_OWNER,
            "created_at": now,
            "links": links,
            "source": signal.source.value,
        }
    )


async def apply_deploy_signal(
    *,
    ledger: Ledger,
    signal: DeploySignal,
    where: Location,
    found: Release | None,
    now: datetime,
    unrecovered: Sequence[Release] = (),
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
        outcome = await record_event(ledger=ledger, release_id=release.id, request=request, now=now)
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


def _late_note(signal: DeploySignal, release: Release) -> str:
    state = release.state.short if release.state else "unrecorded"
    where = signal.name + (f" @ {signal.short_revision}" if signal.short_revision else "")
    return (
        f":information_source: {signal.source.label} `{signal.trigger}` for "
        f"{escape_mrkdwn(where)} after the release was {state}: "
        f"{escape_mrkdwn(truncate(' '.join(symptom_of(signal).split()), MAX_DETAIL))}"
    )
