"""manifests/herald/: plain Kubernetes YAML that runs `herald serve` as docs/design.md describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.catalog import Catalog
from bot.domain.signals.rollback_policy import AutoRollbackPolicy

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests" / "herald"

# docs/design.md, "Interfaces that stay stable": the environment.
STABLE_ENV = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "HERALD_FEED_CHANNEL",
        "HERALD_OPS_CHANNEL",
        "HERALD_DATABASE_URL",
        "HERALD_CONFIG",
        "HERALD_INGEST_TOKEN",
        "HERALD_PORT",
        "ARGOCD_URL",
        "ARGOCD_TOKEN",
        "PROMETHEUS_URL",
        "PAGERDUTY_ROUTING_KEY",
        "PAGERDUTY_EVENTS_URL",
    }
)

Doc = dict[str, Any]


def _documents() -> list[tuple[str, Doc]]:
    docs: list[tuple[str, Doc]] = []
    for path in sorted(MANIFESTS.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def _one(kind: str, name: str | None = None) -> Doc:
    found = [
        doc
        for _, doc in _documents()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _container() -> Doc:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_expected_files_exist() -> None:
    names = {p.name for p in MANIFESTS.iterdir()}
    assert {
        "namespace.yaml",
        "secret.example.yaml",
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "README.md",
    } <= names


@pytest.mark.parametrize("path", sorted(MANIFESTS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_document_is_a_kubernetes_object(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs, f"{path.name} holds no document"
    for doc in docs:
        assert isinstance(doc, dict), path.name
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], path.name
        assert isinstance(doc.get("kind"), str) and doc["kind"], path.name
        assert isinstance(doc.get("metadata", {}).get("name"), str), path.name
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "herald", path.name


def test_deployment_runs_herald_serve() -> None:
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    container = _container()
    assert container["image"] == "ghcr.io/acme/herald:0.1.0"
    assert container["command"] == ["herald", "serve"]
    assert {"name": "http", "containerPort": 3000, "protocol": "TCP"} in container["ports"]
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][part].keys()


def test_probes_hit_health_endpoints_on_the_named_port() -> None:
    container = _container()
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert (readiness["path"], readiness["port"]) == ("/readyz", "http")
    assert (liveness["path"], liveness["port"]) == ("/healthz", "http")
    port_names = {port["name"] for port in container["ports"]}
    assert "http" in port_names


def test_container_is_locked_down() -> None:
    pod = _one("Deployment")["spec"]["template"]["spec"]
    container = _container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_service_maps_port_80_to_the_named_port() -> None:
    service = _one("Service")
    deployment = _one("Deployment")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def _env_sources() -> list[Doc]:
    """The ConfigMaps and Secrets the container takes its environment from."""
    sources: list[Doc] = []
    for ref in _container()["envFrom"]:
        if "configMapRef" in ref:
            sources.append(_one("ConfigMap", ref["configMapRef"]["name"]))
        else:
            sources.append(_one("Secret", ref["secretRef"]["name"]))
    return sources


def test_every_env_name_is_a_stable_herald_name() -> None:
    names: set[str] = {entry["name"] for entry in _container().get("env", [])}
    sources = _env_sources()
    assert {doc["kind"] for doc in sources} == {"ConfigMap", "Secret"}
    for doc in sources:
        names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    assert names - STABLE_ENV == set()
    assert {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "HERALD_INGEST_TOKEN",
        "HERALD_FEED_CHANNEL",
        "HERALD_OPS_CHANNEL",
        "HERALD_DATABASE_URL",
        "HERALD_CONFIG",
    } <= names


def test_secret_example_holds_only_placeholders() -> None:
    secret = _one("Secret", "herald-secrets")
    assert set(secret["stringData"]) == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "HERALD_INGEST_TOKEN",
        "ARGOCD_TOKEN",
        "PAGERDUTY_ROUTING_KEY",
    }
    assert set(secret["stringData"].values()) == {"changeme"}
    assert "data" not in secret


def test_configmap_points_at_postgres_and_the_mounted_catalogue() -> None:
    config = _one("ConfigMap", "herald-config")["data"]
    assert config["HERALD_DATABASE_URL"] == "postgresql+psycopg://herald@postgres:5432/herald"
    assert config["HERALD_CONFIG"] == "/etc/herald/services.yaml"
    pod = _one("Deployment")["spec"]["template"]["spec"]
    (mount,) = [m for m in _container()["volumeMounts"] if m["mountPath"] == "/etc/herald"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "herald-services"


def test_services_example_validates_with_heralds_loader() -> None:
    text = _one("ConfigMap", "herald-services")["data"]["services.yaml"]
    catalog = Catalog.model_validate(yaml.safe_load(text))
    assert catalog.admins == ["U0ADMIN01"]
    webapp = catalog.services["webapp"]
    assert webapp.owners == ["U0OWNER01", "S0BILLING"]
    assert set(webapp.environments) == {"prod", "staging"}
    prod = webapp.environments["prod"]
    assert prod.argocd_app == "webapp-prod"
    assert prod.rollout is not None and prod.rollout.namespace == "webapp"
    assert webapp.auto_rollback.policy() == AutoRollbackPolicy(on_red=True, on_alert=True)


def test_the_commented_service_channels_example_validates_once_uncommented() -> None:
    text = _one("ConfigMap", "herald-services")["data"]["services.yaml"]
    uncommented = text.replace("# channels:", "channels:")
    webapp = Catalog.model_validate(yaml.safe_load(uncommented)).services["webapp"]
    assert webapp.channels is not None
    assert webapp.channels.by_role() == {"feed": "C0WEBFEED1", "ops": "C0WEBOPS01"}
