"""The service catalogue: the YAML file at HERALD_CONFIG (services, owners, environments)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.domain.deploys import DeployTarget
from bot.domain.deploys import RolloutRef as DeployRollout
from bot.domain.services import Directory, ServiceEntry, ServiceEnv
from bot.errors import FieldProblem

SlackId = Annotated[str, StringConstraints(pattern=r"^[UWS][A-Z0-9]{2,}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")


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


class Service(_Strict):
    owners: list[SlackId] = Field(default_factory=list)
    admins: list[SlackId] = Field(default_factory=list)
    environments: dict[Name, Environment] = Field(default_factory=dict)


class Catalog(_Strict):
    """Everything Herald knows about the services it announces."""

    services: dict[Name, Service] = Field(default_factory=dict)
    admins: list[SlackId] = Field(default_factory=list)


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
        problems = [
            FieldProblem(".".join(str(p) for p in err["loc"]) or "(root)", err["msg"])
            for err in exc.errors()
        ]
        raise CatalogError(path, problems) from exc


def build_directory(catalog: Catalog) -> Directory:
    """The catalogue as the domain sees it."""
    services = {}
    for name, service in catalog.services.items():
        envs = {
            env_name: ServiceEnv(name, env_name, _target(env))
            for env_name, env in service.environments.items()
        }
        services[name] = ServiceEntry(
            name=name, owners=tuple(service.owners), admins=tuple(service.admins), envs=envs
        )
    return Directory(services=services, admins=tuple(catalog.admins))


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
