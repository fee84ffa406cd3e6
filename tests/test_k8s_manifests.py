"""manifests/herald/: a team runs `kubectl apply -k` on an overlay and gets a Herald that
starts. `single` is one pod on SQLite on a volume; `replicas` two or more on PostgreSQL that
survive a node drain; the monitoring component adds what Prometheus Operator users scrape and
alert with. Each is rendered with kustomize and checked against Kubernetes' schemas."""

from __future__ import annotations

import tomllib
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from bot.catalog import Catalog
from bot.domain.signals.rollback_policy import AutoRollbackPolicy
from tests.kustomized import MANIFESTS, Doc, Rendered, render, write_overlay

ROOT = MANIFESTS.parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
OVERLAYS = ("single", "replicas")
MONITORING = MANIFESTS / "components" / "monitoring"

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
# The fields prometheus-operator documents for these CRDs (API reference, monitoring.coreos.com/v1).
SERVICE_MONITOR_ENDPOINT = frozenset(
    {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels"}
    | {"relabelings", "metricRelabelings", "tlsConfig", "authorization", "params"}
)
RULE_FIELDS = frozenset({"alert", "record", "expr", "for", "keep_firing_for", "labels"})


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> Rendered:
    return render(MANIFESTS / "overlays" / request.param)


@pytest.fixture(scope="module")
def single() -> Rendered:
    return render(MANIFESTS / "overlays" / "single")


@pytest.fixture(scope="module")
def replicas() -> Rendered:
    return render(MANIFESTS / "overlays" / "replicas")


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """A user's overlay: `single` plus the monitoring component."""
    mine = tmp_path_factory.mktemp("my-herald")
    overlay = write_overlay(
        mine, resources=[MANIFESTS / "overlays" / "single"], components=[MONITORING]
    )
    return render(overlay)


def test_every_rendered_object_is_valid_for_kubernetes(overlay: Rendered) -> None:
    assert overlay.kinds()[0:1] == ["ConfigMap"] and "Deployment" in overlay.kinds()
    for doc in overlay.docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "herald", doc["kind"]


def test_the_image_is_named_once_with_the_version_herald_carries(overlay: Rendered) -> None:
    base = yaml.safe_load((MANIFESTS / "base" / "kustomization.yaml").read_text())
    assert base["images"] == [{"name": "ghcr.io/acme/herald", "newTag": VERSION}]
    assert overlay.container["image"] == f"ghcr.io/acme/herald:{VERSION}"
    tagged = [p for p in MANIFESTS.rglob("*.yaml") if "ghcr.io/acme/herald:" in p.read_text()]
    assert tagged == []


def test_single_runs_one_pod_on_sqlite_on_its_own_volume(single: Rendered) -> None:
    spec = single.one("Deployment")["spec"]
    assert (spec["replicas"], spec["strategy"]) == (1, {"type": "Recreate"})
    claim = single.mounted("/var/lib/herald")["persistentVolumeClaim"]["claimName"]
    assert single.one("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    url = single.one("ConfigMap", "herald-config")["data"]["HERALD_DATABASE_URL"]
    assert url == "sqlite:////var/lib/herald/herald.db"
    assert single.pod["securityContext"]["fsGroup"] == 10001  # the volume is herald's to write


def test_replicas_runs_two_pods_on_postgresql_and_keeps_one_through_a_drain(
    replicas: Rendered,
) -> None:
    spec = replicas.one("Deployment")["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = replicas.one("PodDisruptionBudget")["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert 1 <= budget["minAvailable"] < spec["replicas"]
    url = replicas.one("ConfigMap", "herald-config")["data"]["HERALD_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    assert "PersistentVolumeClaim" not in replicas.kinds()


def test_the_service_monitor_scrapes_the_herald_service(monitored: Rendered) -> None:
    monitor = monitored.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = monitored.one("Service", "herald")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert set(endpoint) <= SERVICE_MONITOR_ENDPOINT
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_the_monitoring_component_brings_the_rule_for_heralds_own_health(
    monitored: Rendered,
) -> None:
    rule = monitored.one("PrometheusRule", "herald-self")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    (group,) = rule["spec"]["groups"]
    for entry in group["rules"]:
        assert set(entry) - {"annotations"} <= RULE_FIELDS and "expr" in entry
    assert "HeraldNoWorkerUp" in {entry.get("alert") for entry in group["rules"]}
    single = {doc["kind"] for doc in render(MANIFESTS / "overlays" / "single").docs}
    assert {"ServiceMonitor", "PrometheusRule"}.isdisjoint(single)  # no CRDs needed without it


def test_the_deployment_runs_herald_serve_with_probes_on_the_named_port(overlay: Rendered) -> None:
    container = overlay.container
    assert container["command"] == ["herald", "serve"]
    assert {"name": "http", "containerPort": 3000, "protocol": "TCP"} in container["ports"]
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][part].keys()
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert (readiness["path"], readiness["port"]) == ("/readyz", "http")
    assert (liveness["path"], liveness["port"]) == ("/healthz", "http")


def test_the_container_is_locked_down(overlay: Rendered) -> None:
    assert overlay.pod["securityContext"]["runAsNonRoot"] is True
    assert overlay.pod["securityContext"]["runAsUser"] == 10001  # the image's user
    security = overlay.container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert overlay.mounted("/tmp")["emptyDir"] == {}


def test_the_service_maps_port_80_to_the_pods_named_port(overlay: Rendered) -> None:
    service = overlay.one("Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = overlay.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def secret_example() -> Doc:
    doc: Doc = yaml.safe_load((MANIFESTS / "secret.example.yaml").read_text(encoding="utf-8"))
    return doc


def test_every_env_name_is_a_stable_herald_name(overlay: Rendered) -> None:
    names: set[str] = {entry["name"] for entry in overlay.container.get("env", [])}
    for ref in overlay.container["envFrom"]:
        if "configMapRef" in ref:
            names |= set(overlay.one("ConfigMap", ref["configMapRef"]["name"])["data"])
        else:
            assert ref["secretRef"]["name"] == secret_example()["metadata"]["name"]
            names |= set(secret_example()["stringData"])
    assert names - STABLE_ENV == set()
    required = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "HERALD_INGEST_TOKEN"}
    assert required | {"HERALD_FEED_CHANNEL", "HERALD_DATABASE_URL", "HERALD_CONFIG"} <= names


def test_the_secret_is_an_example_with_placeholders_that_no_overlay_applies(
    overlay: Rendered,
) -> None:
    secret = secret_example()
    kubernetes_validate.validate(secret, kubernetes_validate.latest_version(), strict=True)
    assert set(secret["stringData"].values()) == {"changeme"} and "data" not in secret
    assert "Secret" not in overlay.kinds()


def test_the_catalogue_is_mounted_where_herald_config_points(overlay: Rendered) -> None:
    config = overlay.one("ConfigMap", "herald-config")["data"]
    assert config["HERALD_CONFIG"] == "/etc/herald/services.yaml"
    assert overlay.mounted("/etc/herald")["configMap"]["name"] == "herald-services"


def test_kustomize_really_fails_on_a_broken_overlay(tmp_path: Path) -> None:
    broken = write_overlay(tmp_path, resources=[tmp_path / "missing"], components=[])
    with pytest.raises(AssertionError, match="kustomize"):
        render(broken)


def catalogue_example(rendered: Rendered) -> str:
    text: str = rendered.one("ConfigMap", "herald-services")["data"]["services.yaml"]
    return text


def test_the_example_catalogue_validates_with_heralds_loader(single: Rendered) -> None:
    catalog = Catalog.model_validate(yaml.safe_load(catalogue_example(single)))
    assert catalog.admins == ["U0ADMIN01"]
    webapp = catalog.services["webapp"]
    assert webapp.owners == ["U0OWNER01", "S0BILLING"]
    assert set(webapp.environments) == {"prod", "staging"}
    prod = webapp.environments["prod"]
    assert prod.argocd_app == "webapp-prod"
    assert prod.rollout is not None and prod.rollout.namespace == "webapp"
    assert webapp.auto_rollback.policy() == AutoRollbackPolicy(on_red=True, on_alert=True)


def test_the_commented_service_channels_example_validates_once_uncommented(
    single: Rendered,
) -> None:
    uncommented = catalogue_example(single).replace("# channels:", "channels:")
    webapp = Catalog.model_validate(yaml.safe_load(uncommented)).services["webapp"]
    assert webapp.channels is not None
    assert webapp.channels.by_role() == {"feed": "C0WEBFEED1", "ops": "C0WEBOPS01"}
