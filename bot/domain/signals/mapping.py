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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.services.directory import Directory
from bot.domain.text import truncate

__all__ = [
    "ARGOCD_TRIGGERS",
    "MAX_DETAIL",
    "ROLLOUTS_TRIGGERS",
    "DeploySignal",
    "Location",
    "Source",
    "Steps",
    "derived_release_id",
    "is_sha",
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


def is_sha(value: str | None) -> bool:
    return value is not None and _SHA.match(value) is not None


def derived_release_id(signal: DeploySignal) -> str | None:
    """`argo-<app>-<revision[:7]>` for a release Herald learns of from Argo CD alone."""
    if signal.source is not Source.ARGOCD or not is_sha(signal.revision):
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
