"""The JSON that Herald's own Argo CD / Argo Rollouts notification templates send.

The notifications engine has no fixed payload: the body is whatever the template renders
(docs/contracts.md §3). Herald ships those templates (`manifests/argocd/notifications-cm.yaml`,
`manifests/rollouts/notification-configmap.yaml`); these models are their schema. Every
value is rendered with `toJson`, so a field the object lacks arrives as `null`, and an
empty string means the same as `null`. Unknown fields are kept, so a team may add some.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from bot.domain.release.manifest import Url
from bot.domain.release.timestamps import Moment
from bot.domain.signals.mapping import DeploySignal, Source

__all__ = [
    "ARGOCD_TRACKING_LABEL",
    "ENV_LABEL",
    "SERVICE_LABEL",
    "AnalysisRunStatus",
    "ArgoCDNotification",
    "RolloutNotification",
]

SERVICE_LABEL = "herald.io/service"
ENV_LABEL = "herald.io/env"
ARGOCD_TRACKING_LABEL = "app.kubernetes.io/instance"
MAX_TEXT = 4000


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _clip(value: Any) -> Any:
    """Long messages are cut, not refused: a lost deploy event costs more than a long line."""
    value = _blank_to_none(value)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "…"
    return value


def _null_to_empty(value: Any) -> Any:
    return {} if value is None else value


Optional = Annotated[
    Annotated[str, StringConstraints(max_length=1000)] | None, BeforeValidator(_blank_to_none)
]
Text = Annotated[str | None, BeforeValidator(_clip)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")]
Trigger = Annotated[str, StringConstraints(pattern=r"^on-[a-z0-9-]{1,62}$")]
Slug = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")] | None,
    BeforeValidator(_blank_to_none),
]
Time = Annotated[Moment | None, BeforeValidator(_blank_to_none)]
Labels = Annotated[dict[str, str], BeforeValidator(_null_to_empty)]
_URL: TypeAdapter[str] = TypeAdapter(Url)
_SLUG: TypeAdapter[str | None] = TypeAdapter(Slug)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ArgoCDNotification(_Payload):
    """What `template.herald-app-*` renders from an Argo CD Application."""

    trigger: Trigger
    app: Name
    namespace: Optional = None
    project: Optional = None
    repo_url: Text = None
    revision: Optional = None  # .status.operationState.syncResult.revision
    operation_revision: Optional = None  # .status.operationState.operation.sync.revision
    sync_revision: Optional = None  # .status.sync.revision
    phase: Optional = None
    message: Text = None
    health: Optional = None
    health_message: Text = None
    started_at: Time = None
    finished_at: Time = None
    images: Annotated[list[str], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list, max_length=200
    )
    labels: Labels = Field(default_factory=dict)
    service: Slug = None
    env: Slug = None
    argocd_url: Text = None

    @model_validator(mode="after")
    def _needs_a_revision(self) -> ArgoCDNotification:
        if not self.synced_revision:
            raise ValueError(
                "one of revision, operation_revision or sync_revision must name the revision"
            )
        return self

    @property
    def synced_revision(self) -> str | None:
        return self.revision or self.operation_revision or self.sync_revision

    def to_signal(self) -> DeploySignal:
        return DeploySignal(
            source=Source.ARGOCD,
            trigger=self.trigger,
            name=self.app,
            namespace=self.namespace,
            revision=self.synced_revision,
            images=tuple(self.images),
            service=self.service or _slug(self.labels.get(SERVICE_LABEL)),
            env=self.env or _slug(self.labels.get(ENV_LABEL)),
            repo=self.repo_url,
            operation_message=self.message,
            health_message=self.health_message,
            started_at=self.started_at,
            finished_at=self.finished_at,
            links=_argocd_link(self.argocd_url, self.app),
        )


class AnalysisRunStatus(_Payload):
    """`status.canary.currentStepAnalysisRunStatus` of a Rollout."""

    name: Optional = None
    status: Optional = None
    message: Text = None

    def describe(self) -> str | None:
        if not (self.name or self.message):
            return None
        head = f"analysis run {self.name or '(unnamed)'} {self.status or 'failed'}"
        return f"{head}: {self.message}" if self.message else head


class RolloutNotification(_Payload):
    """What `template.herald-rollout-*` renders from an Argo Rollout."""

    trigger: Trigger
    rollout: Name
    namespace: Optional = None
    labels: Labels = Field(default_factory=dict)
    phase: Optional = None
    message: Text = None
    pod_hash: Optional = None  # .status.currentPodHash
    step: int | None = None  # .status.currentStepIndex
    aborted: bool | None = None
    images: Annotated[list[Optional], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list, max_length=100
    )  # the pod template's, null-terminated
    step_analysis: AnalysisRunStatus | None = None
    background_analysis: AnalysisRunStatus | None = None
    service: Slug = None
    env: Slug = None
    argocd_url: Text = None

    def to_signal(self) -> DeploySignal:
        app = self.labels.get(ARGOCD_TRACKING_LABEL)
        return DeploySignal(
            source=Source.ROLLOUTS,
            trigger=self.trigger,
            name=self.rollout,
            namespace=self.namespace,
            pod_hash=self.pod_hash,
            images=tuple(image for image in self.images if image),
            service=self.service or _slug(self.labels.get(SERVICE_LABEL)),
            env=self.env or _slug(self.labels.get(ENV_LABEL)),
            argocd_app=app or None,
            rollout_message=self.message,
            analysis_message=self._analysis(),
            links=_argocd_link(self.argocd_url, app) if app else {},
        )

    def _analysis(self) -> str | None:
        for run in (self.step_analysis, self.background_analysis):
            if run is not None and (text := run.describe()):
                return text
        return None


def _slug(value: str | None) -> str | None:
    try:
        return _SLUG.validate_python(value)
    except ValidationError:
        return None


def _argocd_link(base: str | None, app: str) -> dict[str, str]:
    """`argocd` → the app's page, when the template sent a usable `context.argocdUrl`."""
    if not base:
        return {}
    try:
        return {"argocd": _URL.validate_python(f"{base.rstrip('/')}/applications/{app}")}
    except ValidationError:
        return {}
