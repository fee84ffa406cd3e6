"""The notification templates, routes and rules Herald ships in manifests/ actually work.

Each Argo CD / Argo Rollouts template body is rendered from a sample Application or
Rollout by a tiny renderer for exactly the Go-template subset the templates use, then
POSTed with the webhook service's own headers to a running Herald, which must accept it.
Built-in kinds are validated with kubernetes-validate; CRDs structurally; the
PrometheusRule's rules with `promtool check rules` when it is installed.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from bot.catalog import Catalog
from bot.domain.signals.mapping import ARGOCD_TRIGGERS, ROLLOUTS_TRIGGERS
from tests.conftest import INGEST_TOKEN, Herald, SettingsFactory, start_herald
from tests.harness.fixtures import require_or_skip
from tests.harness.prometheus import find_prometheus

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
ARGOCD_CM = MANIFESTS / "argocd" / "notifications-cm.yaml"
ROLLOUTS_CM = MANIFESTS / "rollouts" / "notification-configmap.yaml"
REV = "9f4c2b1" + "e" * 33
Doc = dict[str, Any]


# -- A renderer for the template subset, and nothing more -------------------------------


class TemplateError(Exception):
    """The template uses something outside the supported subset, or its data is bad."""


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = r"((?:\.[A-Za-z_][A-Za-z0-9_]*)+)"
_VALUE = re.compile(rf"^\s*{_PATH}\s*\|\s*toJson\s*$")
_RANGE = re.compile(rf"^\s*range\s+{_PATH}\s*$")
_END = re.compile(r"^\s*end\s*$")


@dataclass
class _Range:
    path: str
    body: list[Any] = field(default_factory=list)


def render(template: str, data: Any) -> str:
    """`{{ .a.b | toJson }}` and `{{ range .a.b }}…{{ end }}`, with Go's semantics for a
    missing map key (null); anything else fails loudly."""
    root: list[Any] = []
    stack: list[list[Any]] = [root]
    position = 0
    for match in _ACTION.finditer(template):
        stack[-1].append(template[position : match.start()])
        position = match.end()
        action = match.group(1)
        if value := _VALUE.match(action):
            stack[-1].append(("value", value.group(1)))
        elif loop := _RANGE.match(action):
            node = _Range(loop.group(1))
            stack[-1].append(node)
            stack.append(node.body)
        elif _END.match(action):
            if len(stack) == 1:
                raise TemplateError("{{ end }} without {{ range }}")
            stack.pop()
        else:
            raise TemplateError(f"unsupported template action: {{{{{action}}}}}")
    if len(stack) != 1:
        raise TemplateError("{{ range }} without {{ end }}")
    rest = template[position:]
    if "{{" in rest or "}}" in rest:
        raise TemplateError("unbalanced {{ or }}")
    root.append(rest)
    return _evaluate(root, data)


def _evaluate(nodes: list[Any], dot: Any) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Range):
            items = _lookup(dot, node.path)
            if items is None:
                continue
            if not isinstance(items, list):
                raise TemplateError(f"range over {node.path}: not a list")
            out.extend(_evaluate(node.body, item) for item in items)
        else:
            out.append(json.dumps(_lookup(dot, node[1]), sort_keys=True, separators=(",", ":")))
    return "".join(out)


def _lookup(dot: Any, path: str) -> Any:
    """A missing key gives Go's "no value" (null), also for the keys after it; a present
    value that is not a map cannot be walked into (Go: "can't evaluate field")."""
    value = dot
    missing = False
    for name in path.strip(".").split("."):
        if missing:
            continue
        if not isinstance(value, dict):
            raise TemplateError(f"{path}: cannot evaluate field {name} in {type(value).__name__}")
        if name not in value:
            missing, value = True, None
        else:
            value = value[name]
    return value


def test_the_renderer_fails_loudly_outside_its_subset() -> None:
    data = {"app": {"metadata": {"name": "x"}, "items": [{"a": 1}]}}
    assert render('{"n": {{ .app.metadata.name | toJson }}}', data) == '{"n": "x"}'
    assert render("{{ .app.nothing.here | toJson }}", data) == "null"
    assert render("[{{ range .app.items }}{{ .a | toJson }}, {{ end }}null]", data) == "[1, null]"
    for bad in (
        "{{ .app.metadata.name }}",
        "{{ .app.metadata.name | quote }}",
        "{{ if .app }}x{{ end }}",
        "{{ range .app.items }}",
        "{{ end }}",
        "{{ .app.metadata.name.first | toJson }}",
        "{{ range .app.metadata }}{{ end }}",
        "x }}",
    ):
        with pytest.raises(TemplateError):
            render(bad, data)


# -- The ConfigMaps ---------------------------------------------------------------------


def _docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _configmap(path: Path) -> dict[str, str]:
    (doc,) = _docs(path)
    assert doc["kind"] == "ConfigMap"
    data = doc["data"]
    assert isinstance(data, dict)
    return data


def _templates(path: Path) -> dict[str, str]:
    """trigger → the template body it sends (one template per trigger, as Herald ships)."""
    data = _configmap(path)
    bodies: dict[str, str] = {}
    for key, value in data.items():
        if not key.startswith("trigger."):
            continue
        (condition,) = yaml.safe_load(value)
        (name,) = condition["send"]
        webhook = yaml.safe_load(data[f"template.{name}"])["webhook"]["herald"]
        assert webhook["method"] == "POST"
        bodies[key.removeprefix("trigger.")] = webhook["body"]
    return bodies


def _service(path: Path) -> tuple[str, dict[str, str]]:
    """The webhook path and headers, with `$herald-token` filled in as Argo would."""
    config = yaml.safe_load(_configmap(path)["service.webhook.herald"])
    url = config["url"]
    assert url.startswith("http://herald.herald.svc/hooks/")
    headers = {h["name"]: h["value"] for h in config["headers"]}
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Herald-Token"] == "$herald-token"
    headers["X-Herald-Token"] = INGEST_TOKEN
    return url.removeprefix("http://herald.herald.svc"), headers


@pytest.mark.parametrize(
    ("path", "triggers", "secret"),
    [
        (ARGOCD_CM, ARGOCD_TRIGGERS, MANIFESTS / "argocd" / "notifications-secret.example.yaml"),
        (
            ROLLOUTS_CM,
            ROLLOUTS_TRIGGERS,
            MANIFESTS / "rollouts" / "notification-secret.example.yaml",
        ),
    ],
    ids=["argocd", "rollouts"],
)
def test_triggers_templates_and_subscriptions_fit_together(
    path: Path, triggers: dict[str, Any], secret: Path
) -> None:
    data = _configmap(path)
    bodies = _templates(path)
    assert set(bodies) == set(triggers)
    for trigger, body in bodies.items():
        assert f'"trigger": "{trigger}"' in body
    (subscription,) = yaml.safe_load(data["subscriptions"])
    assert subscription["recipients"] == ["herald"]
    assert set(subscription["triggers"]) == set(triggers)
    (secret_doc,) = _docs(secret)
    assert secret_doc["stringData"] == {"herald-token": "changeme"}
    assert secret_doc["metadata"]["namespace"] == _docs(path)[0]["metadata"]["namespace"]


def test_argocd_triggers_follow_the_catalog() -> None:
    data = _configmap(ARGOCD_CM)
    deployed = yaml.safe_load(data["trigger.on-deployed"])[0]
    assert deployed["oncePer"] == "app.status.operationState?.syncResult?.revision"
    assert "app.status.health.status == 'Healthy'" in deployed["when"]
    failed = yaml.safe_load(data["trigger.on-sync-failed"])[0]
    assert "['Error', 'Failed']" in failed["when"]
    running = yaml.safe_load(data["trigger.on-sync-running"])[0]
    assert "['Running']" in running["when"]
    assert yaml.safe_load(data["context"]) == {"argocdUrl": "https://argocd.example.com"}


# -- Rendered bodies, POSTed to a running Herald ----------------------------------------

CATALOG = Catalog.model_validate(
    {
        "services": {
            "webapp": {
                "owners": ["U0OWNER01"],
                "environments": {
                    "prod": {
                        "argocd_app": "webapp-prod",
                        "rollout": {"name": "webapp", "namespace": "webapp"},
                    }
                },
            }
        }
    }
)


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    runner = await start_herald(make_settings(), catalog=CATALOG)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


def application(trigger: str) -> Doc:
    """An Argo CD Application as the notifications engine sees it when `trigger` fires."""
    app: Doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "webapp-prod", "namespace": "argocd", "labels": {"team": "billing"}},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/acme/gitops.git", "path": "apps/webapp"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": REV},
            "health": {"status": "Healthy", "lastTransitionTime": "2025-10-02T20:31:00Z"},
            "operationState": {
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "startedAt": "2025-10-02T20:20:00Z",
                "finishedAt": "2025-10-02T20:30:00Z",
                "operation": {"sync": {"revision": REV}, "initiatedBy": {"automated": True}},
                "syncResult": {"revision": REV, "source": {"path": "apps/webapp"}},
            },
            "summary": {"images": ["ghcr.io/acme/webapp:1.42.0", "nginx:1.25"]},
        },
    }
    state = app["status"]["operationState"]
    if trigger == "on-sync-running":
        state["phase"] = "Running"
        state["message"] = "waiting for healthy state of apps/Deployment/webapp"
        del state["finishedAt"], state["syncResult"]
    elif trigger == "on-sync-failed":
        state["phase"] = "Failed"
        state["message"] = 'one or more objects failed to apply: <!channel> "webapp" is invalid'
    elif trigger == "on-health-degraded":
        app["status"]["health"] = {"status": "Degraded", "message": "Deployment webapp: 2/5 ready"}
    return app


def rollout(trigger: str) -> Doc:
    """An Argo Rollout as the controller sends it with `trigger`'s event."""
    obj: Doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "webapp",
            "namespace": "webapp",
            "labels": {"app.kubernetes.io/instance": "webapp-prod"},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "webapp",
                            "image": "ghcr.io/acme/webapp:1.42.0",
                            "env": [{"name": "DB_PASSWORD", "value": "s3cret"}],
                        },
                        {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"},
                    ]
                }
            }
        },
        "status": {
            "phase": "Healthy",
            "currentPodHash": "6d8f7c9b5",
            "stableRS": "6d8f7c9b5",
            "currentStepIndex": 5,
        },
    }
    status = obj["status"]
    if trigger == "on-analysis-run-failed":
        status.update(phase="Progressing", currentStepIndex=1, stableRS="5c9d8f7b6")
        status["canary"] = {
            "currentStepAnalysisRunStatus": {
                "name": "webapp-6d8f7c9b5-2-1",
                "status": "Failed",
                "message": "Metric assessed Failed due to failed (2) > failureLimit (1)",
            }
        }
    elif trigger == "on-rollout-aborted":
        status.update(phase="Degraded", abort=True, currentStepIndex=0, stableRS="5c9d8f7b6")
        status["message"] = "RolloutAborted: Rollout aborted update to revision 3"
    return obj


ARGOCD_EXPECTED = {
    "on-sync-running": ["release.started"],
    "on-deployed": ["release.started", "release.deployed"],
    "on-sync-failed": ["release.started", "release.failed"],
    "on-health-degraded": ["release.started", "release.failed"],
}
ROLLOUTS_EXPECTED = {
    "on-rollout-completed": ["release.deployed"],
    "on-analysis-run-failed": ["release.failed"],
    "on-rollout-aborted": ["release.failed", "release.rolled_back"],
}


async def deliver(herald: Herald, cm: Path, trigger: str, variables: Doc) -> tuple[int, Any]:
    """Render `trigger`'s body and POST it the way the engine's webhook service does."""
    path, headers = _service(cm)
    body = render(_templates(cm)[trigger], variables)
    json.loads(body)  # the engine sends it as is: it must be JSON
    return await herald.call("POST", path, data=body.encode(), token=None, headers=headers)


@pytest.mark.parametrize("trigger", sorted(ARGOCD_EXPECTED))
async def test_argocd_templates_render_bodies_herald_accepts(herald: Herald, trigger: str) -> None:
    status, answer = await deliver(herald, ARGOCD_CM, trigger, argocd_variables(trigger))
    assert status == 200, answer
    assert answer["release"] == "argo-webapp-prod-9f4c2b1"
    assert answer["events"] == ARGOCD_EXPECTED[trigger]
    _, detail = await herald.call("GET", f"/api/v1/releases/{answer['release']}")
    assert detail["release"]["version"] == "1.42.0"


def argocd_variables(trigger: str) -> Doc:
    return {"app": application(trigger), "context": {"argocdUrl": "https://argocd.example.com"}}


@pytest.mark.parametrize("trigger", sorted(ROLLOUTS_EXPECTED))
async def test_rollouts_templates_render_bodies_herald_accepts(
    herald: Herald, trigger: str
) -> None:
    status, _ = await deliver(herald, ARGOCD_CM, "on-sync-running", argocd_variables("x"))
    assert status == 200
    variables = {"rollout": rollout(trigger)}
    body = render(_templates(ROLLOUTS_CM)[trigger], variables)
    assert "s3cret" not in body  # images only: a container spec may hold secrets
    assert json.loads(body)["images"] == [
        "ghcr.io/acme/webapp:1.42.0",
        "envoyproxy/envoy:v1.31.0",
        None,
    ]
    status, answer = await deliver(herald, ROLLOUTS_CM, trigger, variables)
    assert status == 200, answer
    assert answer["release"] == "argo-webapp-prod-9f4c2b1"
    assert answer["events"] == ROLLOUTS_EXPECTED[trigger]


async def test_an_application_without_operation_state_still_renders_valid_json(
    herald: Herald,
) -> None:
    """Go gives a missing map key as "no value" (null), even several levels deep."""
    app = application("on-health-degraded")
    del app["status"]["operationState"], app["status"]["summary"], app["spec"]["source"]
    variables = {"app": app, "context": {}}
    body = json.loads(render(_templates(ARGOCD_CM)["on-health-degraded"], variables))
    assert body["revision"] is None and body["images"] is None and body["argocd_url"] is None
    status, answer = await deliver(herald, ARGOCD_CM, "on-health-degraded", variables)
    assert (status, answer["events"]) == (200, ["release.started", "release.failed"])


# -- Kubernetes objects -----------------------------------------------------------------

ALL_FILES = sorted(
    p
    for d in ("argocd", "rollouts", "alertmanager", "prometheus")
    for p in (MANIFESTS / d).glob("*.yaml")
)
K8S_FILES = [p for p in ALL_FILES if p.parent.name in ("argocd", "rollouts", "prometheus")]


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_document_is_a_kubernetes_object(path: Path) -> None:
    docs = _docs(path)
    assert docs
    for doc in docs:
        assert isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
        metadata = doc["metadata"]
        assert isinstance(metadata.get("name"), str) and isinstance(metadata.get("namespace"), str)
        if doc["kind"] in ("ConfigMap", "Secret"):
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        else:
            assert doc["apiVersion"] in CRDS[doc["kind"]], doc["kind"]
            assert isinstance(doc.get("spec"), dict), doc["kind"]


CRDS = {
    "Rollout": ("argoproj.io/v1alpha1",),
    "AnalysisTemplate": ("argoproj.io/v1alpha1",),
    "PrometheusRule": ("monitoring.coreos.com/v1",),
}


def test_kubernetes_validate_really_checks() -> None:
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, kubernetes_validate.latest_version(), strict=True)


def _one(path: Path, kind: str) -> Doc:
    (doc,) = [d for d in _docs(path) if d["kind"] == kind]
    return doc


def test_canary_rollout_steps_and_analysis() -> None:
    path = MANIFESTS / "rollouts" / "canary-rollout.yaml"
    rollout_doc, template = _one(path, "Rollout"), _one(path, "AnalysisTemplate")
    canary = rollout_doc["spec"]["strategy"]["canary"]
    assert canary["steps"] == [
        {"setWeight": 20},
        {"pause": {}},
        {"setWeight": 50},
        {"pause": {"duration": "10m"}},
        {"setWeight": 100},
    ]
    (ref,) = canary["analysis"]["templates"]
    assert ref["templateName"] == template["metadata"]["name"]
    declared = {a["name"] for a in template["spec"]["args"]}
    assert {a["name"] for a in canary["analysis"]["args"]} == declared
    (metric,) = template["spec"]["metrics"]
    assert metric["successCondition"] == "len(result) == 0 || result[0] < 0.02"
    query = metric["provider"]["prometheus"]["query"]
    assert 'code=~"5.."' in query and "{{args.service}}" in query and "{{args.env}}" in query
    spec = rollout_doc["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert rollout_doc["metadata"]["namespace"] == template["metadata"]["namespace"]


def test_guardrail_rules_are_release_scoped() -> None:
    rule = _one(MANIFESTS / "prometheus" / "release-guardrails.yaml", "PrometheusRule")
    (group,) = rule["spec"]["groups"]
    rules = {r["alert"]: r for r in group["rules"]}
    assert set(rules) == {"ReleaseErrorRatioHigh", "ReleaseLatencyP95High"}
    for alert in rules.values():
        assert alert["for"] == "5m"
        assert alert["labels"] == {"scope": "release", "severity": "critical"}
        assert "by (service, env" in alert["expr"]  # the series carry service and env
        assert alert["annotations"]["summary"]
    assert "> 0.05" in rules["ReleaseErrorRatioHigh"]["expr"]
    assert "> 0.5" in rules["ReleaseLatencyP95High"]["expr"]


def test_guardrail_rules_pass_promtool(tmp_path: Path) -> None:
    found = find_prometheus()
    if found is None:
        require_or_skip("promtool not found")
    rule = _one(MANIFESTS / "prometheus" / "release-guardrails.yaml", "PrometheusRule")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
    result = subprocess.run(
        [str(found[1]), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rules found" in result.stdout


# -- The Alertmanager route -------------------------------------------------------------

_MATCHER = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)"(.*)"$')


def _matches(route: Doc, labels: dict[str, str]) -> bool:
    for matcher in route.get("matchers", []):
        found = _MATCHER.match(matcher)
        assert found, f"unparsable matcher {matcher!r}"
        name, op, value = found.groups()
        actual = labels.get(name, "")
        equal = op in ("=", "!=")
        hit = actual == value if equal else re.fullmatch(value, actual) is not None
        if hit != (op in ("=", "=~")):
            return False
    return True


def _receivers_for(config: Doc, labels: dict[str, str]) -> list[str]:
    """Alertmanager's routing for one level of child routes, `continue` included."""
    chosen: list[str] = []
    for route in config["route"].get("routes", []):
        if _matches(route, labels):
            chosen.append(route["receiver"])
            if not route.get("continue", False):
                return chosen
    return chosen or [config["route"]["receiver"]]


def test_alertmanager_routes_release_alerts_to_herald() -> None:
    (config,) = _docs(MANIFESTS / "alertmanager" / "route.yaml")
    receivers = {r["name"]: r for r in config["receivers"]}
    assert len(receivers) == len(config["receivers"])
    for route in [config["route"], *config["route"]["routes"]]:
        assert route["receiver"] in receivers
    (webhook,) = receivers["herald"]["webhook_configs"]
    assert webhook == {
        "url": "http://herald.herald.svc/hooks/alertmanager",
        "send_resolved": True,
        "max_alerts": 0,
        "http_config": {
            "authorization": {
                "type": "Bearer",
                "credentials_file": "/etc/alertmanager/secrets/herald-token",
            }
        },
    }
    for route in config["route"]["routes"]:
        assert {"group_by", "group_interval", "repeat_interval"} <= route.keys()
        assert route["continue"] is True  # Herald listens; the team's own receivers still get it
    release = {"alertname": "ReleaseErrorRatioHigh", "scope": "release", "service": "webapp"}
    assert _receivers_for(config, release) == ["herald"]
    team = {"alertname": "HighLatency", "team": "billing", "service": "webapp"}
    assert _receivers_for(config, team) == ["herald"]
    assert _receivers_for(config, {"alertname": "DiskFull", "team": "billing"}) == ["default"]
    assert _receivers_for(config, {"alertname": "Watchdog"}) == ["default"]


def test_guardrail_alerts_are_routed_to_herald() -> None:
    (config,) = _docs(MANIFESTS / "alertmanager" / "route.yaml")
    rule = _one(MANIFESTS / "prometheus" / "release-guardrails.yaml", "PrometheusRule")
    for alert in rule["spec"]["groups"][0]["rules"]:
        labels = {"alertname": alert["alert"], **copy.deepcopy(alert["labels"]), "service": "x"}
        assert "herald" in _receivers_for(config, labels)
