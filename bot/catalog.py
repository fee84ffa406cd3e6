"""The service catalogue: the YAML file at HERALD_CONFIG (services, owners, environments)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.catalog_approvals import Approvals
from bot.catalog_freezes import Freeze, check_freeze_scopes
from bot.channels import ServiceChannels
from bot.domain.checkup.metrics import WINDOWED, ServiceQueries
from bot.domain.checkup.offsets import DEFAULT_OFFSETS, offset_problem
from bot.domain.deploy.tool import DeployTarget
from bot.domain.deploy.tool import RolloutRef as DeployRollout
from bot.domain.services.directory import Directory, ServiceEntry, ServiceEnv
from bot.domain.signals.rollback_policy import AutoRollbackPolicy
from bot.domain.text import DURATION, parse_duration
from bot.domain.watch.policy import WatchPolicy
from bot.domain.watch.queries import CANARY_LABEL, READY, WatchQueries
from bot.domain.watch.watch import WatchConfig
from bot.errors import FieldProblem

SlackId = Annotated[str, StringConstraints(pattern=r"^[UWS][A-Z0-9]{2,}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RolloutRef(_Strict):
    name: str
    namespace: str = "default"


class Environment(_Strict):
    argocd_app: str | None = None
    argocd_project: str | None = None
    argocd_app_namespace: str | None = None
    rollout: RolloutRef | None = None


class Queries(_Strict):
    """PromQL overrides of the checkup's default templates (``ServiceQueries``).

    A key left out keeps the default; ``null`` switches an optional metric off. Placeholders:
    ``{service}``, ``{env}`` and, in requests/errors/kpi/restarts, ``{window}``.
    """

    requests: str | None = None
    errors: str | None = None
    p95: str | None = None
    p99: str | None = None
    saturation: str | None = None
    kpi: str | None = None
    health: str | None = None
    restarts: str | None = None

    @model_validator(mode="after")
    def _usable(self) -> Self:
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if value is None and name in ("requests", "errors"):
                raise ValueError(f"{name} cannot be switched off")
            if value is not None and name in WINDOWED and "{window}" not in value:
                raise ValueError(f"{name} needs a {{window}} placeholder")
        return self


class AutoRollback(_Strict):
    """When Herald may roll a release back on its own, through the same path as `/deploy
    rollback`. `true` is `{on_red: true}` and `false` is both off, as before this had keys."""

    on_red: bool = False  # a red checkup within the first hour (docs/verdict.md §3.4)
    on_alert: bool = False  # a critical release-scoped Alertmanager alert

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"on_red": value}
        if not isinstance(value, dict | AutoRollback):
            raise ValueError("must be true, false or {on_red: true|false, on_alert: true|false}")
        return value

    def policy(self) -> AutoRollbackPolicy:
        return AutoRollbackPolicy(on_red=self.on_red, on_alert=self.on_alert)


class Watch(_Strict):
    """The early watch of each release and the recovery watch after a rollback
    (docs/verdict.md §3.6). `false` switches both off for the service."""

    duration: Annotated[str, StringConstraints(pattern=DURATION.pattern)] = "15m"
    interval: Literal["15s", "30s"] = "15s"  # on the 15 s grid the windows use
    recovery_hold: Annotated[str, StringConstraints(pattern=DURATION.pattern)] = "2m"
    recovery_within: Annotated[str, StringConstraints(pattern=DURATION.pattern)] = "15m"
    ready: str | None = READY  # readiness PromQL; null switches it off
    canary_label: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = (
        CANARY_LABEL
    )

    @field_validator("duration", "recovery_within")
    @classmethod
    def _bounded(cls, value: str) -> str:
        length = parse_duration(value)
        if not timedelta(minutes=1) <= length <= timedelta(hours=2) or length.seconds % 15:
            raise ValueError("must be between 1m and 2h, in whole 15 s steps")
        return value

    @field_validator("recovery_hold")
    @classmethod
    def _held(cls, value: str) -> str:
        if not timedelta(seconds=15) <= parse_duration(value) <= timedelta(minutes=30):
            raise ValueError("must be between 15s and 30m")
        return value


class Service(_Strict):
    owners: list[SlackId] = Field(default_factory=list)
    admins: list[SlackId] = Field(default_factory=list)
    environments: dict[Name, Environment] = Field(default_factory=dict)
    queries: Queries | None = None
    checkups: list[Annotated[str, StringConstraints(pattern=r"^\d+(s|m|h|d)$")]] | None = Field(
        None, min_length=1, max_length=12
    )
    auto_rollback: AutoRollback = Field(default_factory=AutoRollback)
    watch: Watch | None = Field(default_factory=Watch)  # `false` (None): not watched
    pagerduty_routing_key: str | None = Field(None, min_length=32, max_length=32)
    pagerduty_escalation_policy: str | None = Field(None, pattern=r"^[A-Z0-9]{2,32}$")
    channels: ServiceChannels | None = None  # its own Slack channels (bot/channels.py)
    approvals: Approvals | None = None  # go/no-go (bot/catalog_approvals.py); none: pre-approved

    @field_validator("watch", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        """`false` switches the watch off, `true` is the defaults."""
        if value is False or value is None:
            return None
        return {} if value is True else value

    @field_validator("checkups")
    @classmethod
    def _judgeable(cls, offsets: list[str] | None) -> list[str] | None:
        """Only offsets the verdict rules can judge (a shorter one would never report)."""
        for text in offsets or ():
            if problem := offset_problem(parse_duration(text)):
                raise ValueError(problem)
        return offsets


class Catalog(_Strict):
    """Everything Herald knows about the services it announces."""

    services: dict[Name, Service] = Field(default_factory=dict)
    admins: list[SlackId] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)  # change-freeze windows

    @model_validator(mode="after")
    def _freezes_known(self) -> Self:
        check_freeze_scopes(self.freezes, set(self.services))
        return self


class CatalogError(Exception):
    def __init__(self, path: Path, problems: list[FieldProblem]) -> None:
        super().__init__(f"{path}: {len(problems)} problem(s)")
        self.path = path
        self.problems = problems


def load_catalog(path: Path | None) -> Catalog:
    """Read and validate the catalogue; no path means an empty one."""
    if path is None:
        return Catalog()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(path, [FieldProblem("HERALD_CONFIG", f"cannot read: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(path, [FieldProblem("HERALD_CONFIG", f"not YAML: {exc}")]) from exc
    try:
        return Catalog.model_validate(raw or {})
    except ValidationError as exc:
        problems = [_problem(err["loc"], err["msg"]) for err in exc.errors()]
        raise CatalogError(path, problems) from exc


def _problem(loc: tuple[int | str, ...], message: str) -> FieldProblem:
    """A validation error as `field: problem`; a check across fields names its field first."""
    message = message.removeprefix("Value error, ")
    field = ".".join(str(part) for part in loc)
    if not field and (named := re.match(r"^([\w.]+): (.*)$", message)) is not None:
        return FieldProblem(named.group(1), named.group(2))
    return FieldProblem(field or "(root)", message)


def build_directory(catalog: Catalog) -> Directory:
    """The catalogue as the domain sees it."""
    services = {}
    for name, service in catalog.services.items():
        envs = {
            env_name: ServiceEnv(name, env_name, _target(env))
            for env_name, env in service.environments.items()
        }
        services[name] = ServiceEntry(
            name=name,
            owners=tuple(service.owners),
            admins=tuple(service.admins),
            envs=envs,
            approvals=service.approvals.policy() if service.approvals else None,
        )
    return Directory(services=services, admins=tuple(catalog.admins))


def service_queries(catalog: Catalog, service: str) -> ServiceQueries:
    """The service's checkup queries: the defaults with its catalogue overrides applied
    (just the defaults for a service the catalogue does not know)."""
    entry = catalog.services.get(service)
    if entry is None or entry.queries is None:
        return ServiceQueries()
    overrides: dict[str, Any] = {
        name: getattr(entry.queries, name) for name in entry.queries.model_fields_set
    }
    return replace(ServiceQueries(), **overrides)


def _target(env: Environment) -> DeployTarget | None:
    if env.argocd_app is None:
        return None
    rollout = DeployRollout(env.rollout.name, env.rollout.namespace) if env.rollout else None
    return DeployTarget(
        app=env.argocd_app,
        project=env.argocd_project,
        app_namespace=env.argocd_app_namespace,
        rollout=rollout,
    )


def checkup_offsets(catalog: Catalog, service: str) -> tuple[timedelta, ...]:
    """The service's checkup offsets, or the defaults (+15m, +30m, +1h, +24h)."""
    entry = catalog.services.get(service)
    if entry is None or not entry.checkups:
        return DEFAULT_OFFSETS
    return tuple(sorted({parse_duration(text) for text in entry.checkups}))


def auto_rollback_policy(catalog: Catalog, service: str) -> AutoRollbackPolicy:
    """When Herald may roll the service back on its own (never, for a service it does not know)."""
    entry = catalog.services.get(service)
    return entry.auto_rollback.policy() if entry is not None else AutoRollbackPolicy()


def auto_rollback_enabled(catalog: Catalog, service: str) -> bool:
    """Whether a red checkup may roll the service back."""
    return auto_rollback_policy(catalog, service).on_red


def routing_key(catalog: Catalog, service: str) -> str | None:
    entry = catalog.services.get(service)
    return entry.pagerduty_routing_key if entry else None


def escalation_policy(catalog: Catalog, service: str) -> str | None:
    """The PagerDuty escalation policy whose first level is the service's on-call."""
    entry = catalog.services.get(service)
    return entry.pagerduty_escalation_policy if entry else None


def watch_config(catalog: Catalog, service: str, env: str) -> WatchConfig | None:
    """How the service is watched in `env`; None where its `watch` is off. A service the
    catalogue does not know is watched with the defaults."""
    entry = catalog.services.get(service)
    if entry is None:
        return WatchConfig(queries=WatchQueries(checkup=service_queries(catalog, service)))
    if entry.watch is None:
        return None
    spec, where = entry.watch, entry.environments.get(env)
    return WatchConfig(
        policy=WatchPolicy(
            duration=parse_duration(spec.duration), interval=parse_duration(spec.interval)
        ),
        queries=WatchQueries(
            checkup=service_queries(catalog, service),
            ready=spec.ready,
            canary_label=spec.canary_label,
        ),
        canary=where is not None and where.rollout is not None,
        rollback=entry.auto_rollback.policy(),
        recovery_hold=parse_duration(spec.recovery_hold),
        recovery_within=parse_duration(spec.recovery_within),
    )
