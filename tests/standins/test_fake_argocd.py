"""The fake Argo CD over real HTTP: auth, lookups, Rollout actions, rollback, faults, and a
contract test against Argo CD's swagger."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft4Validator, ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from standins.argocd import ArgoCall, FakeArgoCD, FakeRollout
from tests.specs import load_spec

TOKEN = "argocd-test-token"
APP = "/api/v1/applications/webapp"
ROLLOUT_Q = {
    "namespace": "web",
    "resourceName": "webapp",
    "version": "v1alpha1",
    "group": "argoproj.io",
    "kind": "Rollout",
}
REVS = ("a" * 40, "b" * 40, "c" * 40)


def add_webapp(fake: FakeArgoCD, **rollout: Any) -> None:
    fake.add_app(
        "webapp",
        revision=REVS[2],
        history=[(3, REVS[0]), (4, REVS[1]), (5, REVS[2])],
        rollout=FakeRollout("webapp", "web", **rollout),
    )


@pytest.fixture
async def argo() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        add_webapp(fake)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    fake: FakeArgoCD,
    method: str,
    path: str,
    *,
    token: str | None = TOKEN,
    params: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None if body is None else json.dumps(body)
    async with http.request(
        method, fake.url + path, params=params, data=data, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def run_action(http: aiohttp.ClientSession, fake: FakeArgoCD, action: str) -> tuple[int, Any]:
    body = {**ROLLOUT_Q, "name": "webapp", "action": action}
    return await call(http, fake, "POST", f"{APP}/resource/actions/v2", body=body)


async def actions(http: aiohttp.ClientSession, fake: FakeArgoCD) -> dict[str, bool]:
    status, body = await call(http, fake, "GET", f"{APP}/resource/actions", params=ROLLOUT_Q)
    assert status == 200
    return {a["name"]: a["disabled"] for a in body["actions"]}


async def live(http: aiohttp.ClientSession, fake: FakeArgoCD) -> dict[str, Any]:
    status, body = await call(http, fake, "GET", f"{APP}/resource", params=ROLLOUT_Q)
    assert status == 200
    manifest: dict[str, Any] = json.loads(body["manifest"])
    return manifest


def merge(automated: Any) -> dict[str, Any]:
    patch = {"spec": {"syncPolicy": {"automated": automated}}}
    return {"name": "webapp", "patch": json.dumps(patch), "patchType": "merge"}


# -- auth and lookups ---------------------------------------------------------------------


async def test_auth_needs_the_bearer_token(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    assert await call(http, argo, "GET", APP, token=None) == (
        401,
        {
            "error": "no session information",
            "code": 16,
            "message": "no session information",
            "details": [],
        },
    )
    status, body = await call(http, argo, "GET", APP, token="stolen")
    assert (status, body["code"]) == (401, 16)
    async with http.get(argo.url + APP, cookies={"argocd.token": TOKEN}) as resp:
        assert resp.status == 200
    status, body = await call(http, argo, "GET", "/api/version")
    assert (status, body["Version"]) == (200, "v3.1.8+8f1e3c2")


async def test_unknown_app_is_403_unless_project_given(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, argo, "GET", "/api/v1/applications/nope")
    assert (status, body["code"], body["message"]) == (403, 7, "permission denied")
    status, body = await call(
        http, argo, "GET", "/api/v1/applications/nope", params={"project": "default"}
    )
    assert (status, body["code"]) == (404, 5)
    assert body["message"] == 'applications.argoproj.io "nope" not found'
    # the app exists, but not in that project: 404 too
    status, _ = await call(http, argo, "GET", APP, params={"project": "other"})
    assert status == 404
    status, _ = await call(http, argo, "GET", APP, params={"project": "default"})
    assert status == 200


async def test_apps_outside_the_control_plane_need_app_namespace(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    argo.add_app("billing", namespace="team-a", project="payments", revision="d" * 40)
    path = "/api/v1/applications/billing"
    assert (await call(http, argo, "GET", path))[0] == 403
    status, body = await call(http, argo, "GET", path, params={"appNamespace": "team-a"})
    assert status == 200
    assert body["metadata"]["namespace"] == "team-a"
    assert body["spec"]["project"] == "payments"


async def test_unknown_path_is_404(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, argo, "GET", "/api/v1/nothing/here")
    assert (status, body["code"]) == (404, 5)
    status, body = await call(
        http, argo, "GET", f"{APP}/resource", params={**ROLLOUT_Q, "resourceName": "other"}
    )
    assert status == 404
    assert body["message"] == "Rollout argoproj.io other not found as part of application webapp"


async def test_application_json(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    status, app = await call(http, argo, "GET", APP)
    assert status == 200
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": False}
    assert app["status"]["sync"] == {
        **app["status"]["sync"],
        "status": "Synced",
        "revision": REVS[2],
    }
    assert app["status"]["health"]["status"] == "Suspended"  # the Rollout is paused
    assert [h["id"] for h in app["status"]["history"]] == [3, 4, 5]
    assert app["status"]["summary"]["images"] == [
        "ghcr.io/acme/webapp:bbbbbbb",
        "ghcr.io/acme/webapp:ccccccc",
    ]
    status, tree = await call(http, argo, "GET", f"{APP}/resource-tree")
    kinds = {(n["kind"], n["name"]) for n in tree["nodes"]}
    assert ("Rollout", "webapp") in kinds


# -- the Rollout and its actions ----------------------------------------------------------


async def test_resume_advances_to_the_next_pause_step(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    ro = (await live(http, argo))["status"]
    assert (ro["currentStepIndex"], ro["phase"], ro["updatedReplicas"]) == (1, "Paused", 2)
    assert ro["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert ro["canary"] == {}  # no weights without trafficRouting
    assert await run_action(http, argo, "resume") == (200, {})
    ro = (await live(http, argo))["status"]
    assert (ro["currentStepIndex"], ro["phase"], ro["updatedReplicas"]) == (3, "Paused", 5)
    assert ro["stableRS"] != ro["currentPodHash"]
    rollout = argo.app("webapp").rollout
    assert rollout is not None
    assert rollout.weight == 50


async def test_skip_current_step_then_finish(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    await run_action(http, argo, "skip-current-step")
    assert (await live(http, argo))["status"]["currentStepIndex"] == 3
    assert (await actions(http, argo))["skip-current-step"] is False
    await run_action(http, argo, "skip-current-step")
    st = (await live(http, argo))["status"]
    assert (st["currentStepIndex"], st["phase"]) == (5, "Healthy")
    assert st["stableRS"] == st["currentPodHash"]
    assert "pauseConditions" not in st
    assert await actions(http, argo) == {
        "abort": True,
        "pause": True,
        "promote-full": True,
        "restart": False,
        "resume": True,
        "retry": True,
        "skip-current-step": True,
    }


async def test_promote_full(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    await run_action(http, argo, "promote-full")
    st = (await live(http, argo))["status"]
    assert (st["currentStepIndex"], st["phase"], st["updatedReplicas"]) == (5, "Healthy", 10)
    assert st["stableRS"] == st["currentPodHash"]
    assert "promoteFull" not in st  # the controller is done with it
    _, app = await call(http, argo, "GET", APP)
    assert app["status"]["health"]["status"] == "Healthy"
    assert app["status"]["summary"]["images"] == ["ghcr.io/acme/webapp:ccccccc"]


async def test_pause_then_resume(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    await run_action(http, argo, "skip-current-step")  # now at step 3, paused by the step
    argo.app("webapp").rollout.expire_pause()  # type: ignore[union-attr]
    ro = await live(http, argo)  # the 10m pause ran out: weight 100 then done
    assert ro["status"]["phase"] == "Healthy"


async def test_manual_pause_holds_the_steps(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    await run_action(http, argo, "resume")  # at step 3
    assert (await actions(http, argo))["pause"] is False
    await run_action(http, argo, "pause")
    ro = await live(http, argo)
    assert ro["spec"]["paused"] is True
    assert (ro["status"]["phase"], ro["status"]["message"]) == ("Paused", "manually paused")
    flags = await actions(http, argo)
    assert (flags["pause"], flags["resume"]) == (True, False)
    await run_action(http, argo, "resume")  # clears spec.paused and the pause condition
    ro = await live(http, argo)
    assert ro["spec"]["paused"] is False
    assert (ro["status"]["currentStepIndex"], ro["status"]["phase"]) == (5, "Healthy")


async def test_abort_and_retry(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    await run_action(http, argo, "resume")
    await run_action(http, argo, "abort")
    st = (await live(http, argo))["status"]
    assert st["abort"] is True and st["abortedAt"]
    assert st["currentStepIndex"] == 0  # the controller sends an aborted canary back to step 0
    assert (st["phase"], st["updatedReplicas"]) == ("Degraded", 0)
    assert "pauseConditions" not in st
    flags = await actions(http, argo)
    assert flags == {
        **flags,
        "abort": True,
        "retry": False,
        "pause": True,
        "resume": True,
        "promote-full": False,
    }
    _, app = await call(http, argo, "GET", APP)
    assert app["status"]["health"]["status"] == "Degraded"
    await run_action(http, argo, "retry")  # starts over from the first step
    st = (await live(http, argo))["status"]
    assert "abort" not in st
    assert (st["currentStepIndex"], st["phase"], st["updatedReplicas"]) == (1, "Paused", 2)


async def test_traffic_routing_reports_weights() -> None:
    async with FakeArgoCD() as fake, aiohttp.ClientSession() as http:
        add_webapp(fake, traffic_routing=True)
        weights = (await live(http, fake))["status"]["canary"]["weights"]
        assert (weights["canary"]["weight"], weights["stable"]["weight"]) == (20, 80)
        await run_action(http, fake, "resume")
        weights = (await live(http, fake))["status"]["canary"]["weights"]
        assert weights["canary"]["weight"] == 50
        assert (await live(http, fake))["status"]["replicas"] == 15  # stable stays at 10


async def test_v30_has_no_pause_or_skip_and_no_v2_route() -> None:
    async with FakeArgoCD(version="v3.0.5") as fake, aiohttp.ClientSession() as http:
        add_webapp(fake)
        assert set(await actions(http, fake)) == {
            "abort",
            "promote-full",
            "restart",
            "resume",
            "retry",
        }
        path = f"{APP}/resource/actions"
        status, body = await call(http, fake, "POST", path, params=ROLLOUT_Q, body="pause")
        assert (status, body["code"]) == (500, 2)
        assert "Lua resource action" in body["message"]
        status, _ = await run_action(http, fake, "resume")
        assert status == 404  # /v2 does not exist before v3.1
        status, body = await call(http, fake, "POST", path, params=ROLLOUT_Q, body="resume")
        assert (status, body) == (200, {})
        assert fake.app("webapp").rollout.step_index == 3  # type: ignore[union-attr]


# -- rollback, auto-sync, operations ------------------------------------------------------


async def test_rollback_refused_with_auto_sync_then_done(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4})
    assert (status, body["code"]) == (400, 9)
    assert body["message"] == "rollback cannot be initiated when auto-sync is enabled"
    status, app = await call(http, argo, "PATCH", APP, body=merge(None))
    assert status == 200
    assert "automated" not in app["spec"]["syncPolicy"]
    status, body = await call(http, argo, "POST", f"{APP}/rollback", body={"id": 99})
    assert (status, body["code"]) == (400, 3)
    assert body["message"] == "application webapp does not have deployment with id 99"
    status, app = await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4})
    assert status == 200
    assert app["status"]["sync"]["revision"] == REVS[1]
    assert app["status"]["sync"]["status"] == "OutOfSync"  # Git still says c...
    assert app["status"]["history"][-1]["id"] == 6
    assert app["status"]["operationState"]["phase"] == "Succeeded"
    st = (await live(http, argo))["status"]  # back to the stable template: steps skipped
    assert (st["phase"], st["stableRS"] == st["currentPodHash"]) == ("Healthy", True)
    # auto-sync back on: the controller syncs to Git's revision again (a new canary)
    status, app = await call(http, argo, "PATCH", APP, body=merge({"prune": True}))
    assert app["status"]["sync"] == {
        **app["status"]["sync"],
        "status": "Synced",
        "revision": REVS[2],
    }
    assert [h["id"] for h in app["status"]["history"]][-2:] == [6, 7]
    st = (await live(http, argo))["status"]
    assert (st["currentStepIndex"], st["phase"]) == (1, "Paused")


async def test_listeners_hear_of_each_call_once_it_is_answered(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    heard: list[tuple[str, int]] = []
    argo.listeners.append(lambda c: heard.append((c.path, c.status)))
    await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4})  # refused: auto-sync
    await call(http, argo, "PATCH", APP, body=merge(None))
    await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4})
    assert heard == [(f"{APP}/rollback", 400), (APP, 200), (f"{APP}/rollback", 200)]
    assert heard == [(c.path, c.status) for c in argo.calls]


async def test_patch_variants(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    body = merge({"prune": True, "selfHeal": True})
    status, app = await call(http, argo, "PATCH", APP, body=body)
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    ops = [{"op": "remove", "path": "/spec/syncPolicy/automated"}]
    status, app = await call(
        http, argo, "PATCH", APP, body={"patch": json.dumps(ops), "patchType": "json"}
    )
    assert status == 200
    assert argo.app("webapp").auto_sync is False
    status, body = await call(http, argo, "PATCH", APP, body={**merge(None), "patchType": "xml"})
    assert (status, body["code"]) == (400, 3)
    # `enabled: false` keeps the block but turns auto-sync off (Argo CD 3.x)
    await call(http, argo, "PATCH", APP, body=merge({"enabled": False}))
    assert argo.app("webapp").auto_sync is False
    status, _ = await call(http, argo, "POST", f"{APP}/rollback", body={"id": 3})
    assert status == 200


async def test_operation_in_progress_and_terminate(
    argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    await call(http, argo, "PATCH", APP, body=merge(None))
    argo.hold_operation("webapp")
    _, app = await call(http, argo, "GET", APP)
    assert app["status"]["operationState"]["phase"] == "Running"
    assert "operation" in app
    status, body = await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4})
    assert (status, body["code"]) == (400, 9)
    assert "another operation is already in progress" in body["message"]
    assert await call(http, argo, "DELETE", f"{APP}/operation") == (200, {})
    _, app = await call(http, argo, "GET", APP)
    assert app["status"]["operationState"]["phase"] == "Failed"
    assert app["status"]["operationState"]["message"] == "Operation terminated"
    status, body = await call(http, argo, "DELETE", f"{APP}/operation")
    assert (status, body["code"]) == (400, 3)
    assert (await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4}))[0] == 200


# -- faults ---------------------------------------------------------------------------------


async def test_faults(argo: FakeArgoCD, http: aiohttp.ClientSession) -> None:
    argo.slow_next(0.3)
    started = time.monotonic()
    assert (await call(http, argo, "GET", APP))[0] == 200
    assert time.monotonic() - started >= 0.3
    argo.fail_next(503, times=2)
    for _ in range(2):
        status, body = await call(http, argo, "GET", APP)
        assert (status, body["code"]) == (503, 14)
    argo.fail_next(500)
    assert (await call(http, argo, "POST", f"{APP}/rollback", body={"id": 4}))[0] == 500
    assert (await call(http, argo, "GET", APP))[0] == 200
    argo.set_down(True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, argo, "GET", APP)
    argo.set_down(False)
    assert (await call(http, argo, "GET", APP))[0] == 200
    statuses = [c.status for c in argo.calls]
    assert statuses[:5] == [200, 503, 503, 500, 200]
    assert set(statuses[5:-1]) == {0}  # aiohttp retries an idempotent GET once
    assert statuses[-1] == 200
    assert argo.calls[3].body == {"id": 4}
    assert argo.calls[0].at <= argo.calls[1].at


async def test_slow_answers_stop_on_close() -> None:
    async with aiohttp.ClientSession() as http:
        fake = FakeArgoCD()
        await fake.start()
        add_webapp(fake)
        fake.slow_next(30)
        timeout = aiohttp.ClientTimeout(total=0.2)
        with pytest.raises(TimeoutError):
            async with http.get(fake.url + APP, timeout=timeout):
                pass
        started = time.monotonic()
        await fake.close()
        assert time.monotonic() - started < 2


# -- contract: routes and bodies against Argo CD's swagger --------------------------------


@pytest.fixture(scope="module")
def swagger() -> Iterator[dict[str, Any]]:
    yield load_spec("argocd_swagger.json")


class Contract:
    """Validates recorded calls against the swagger (request and answer)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource("urn:argocd", resource)

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            schema = {"$ref": "urn:argocd" + ref}
        Draft4Validator(schema, registry=self.registry).validate(instance)

    def definition(self, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.spec["definitions"][name]
        return schema

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for template, ops in self.spec["paths"].items():
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method.lower() in ops:
                return template, ops[method.lower()]
        raise AssertionError(f"{method} {path} is not in the swagger")

    def check(self, call: ArgoCall) -> None:
        _, op = self.operation(call.method, call.path)
        params = op.get("parameters", [])
        declared = {p["name"] for p in params if p["in"] == "query"}
        assert set(call.query) <= declared, f"{call.path}: {set(call.query) - declared}"
        body = next((p for p in params if p["in"] == "body"), None)
        if call.body is not None:
            assert body is not None, f"{call.method} {call.path} takes no body"
            self.validate(call.body, body["schema"])
            props = self.properties(body["schema"])
            if props is not None and isinstance(call.body, dict):
                assert set(call.body) <= props, f"unknown fields {set(call.body) - props}"
        if call.status:
            answer = op["responses"]["200" if call.status == 200 else "default"]["schema"]
            self.validate(call.answer, answer)

    def properties(self, schema: dict[str, Any]) -> set[str] | None:
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return None
        return set(self.definition(ref.rsplit("/", 1)[-1]).get("properties", {}))


async def test_every_route_is_in_the_swagger(swagger: dict[str, Any]) -> None:
    v2 = ("POST", "/api/v1/applications/{name}/resource/actions/v2")
    for version, has_v2 in (("v3.1.8", True), ("v3.0.5", False)):
        async with FakeArgoCD(version=version) as fake:
            routes = fake.routes()
        assert len(routes) >= 9
        assert (v2 in routes) is has_v2
        for method, template in routes:
            assert method.lower() in swagger["paths"].get(template, {}), (method, template)


def test_the_contract_check_catches_bad_bodies(swagger: dict[str, Any]) -> None:
    contract = Contract(swagger)
    bad = ArgoCall("POST", "/api/v1/applications/x/rollback", {}, {"id": "four"}, 0.0, 200, {})
    with pytest.raises(ValidationError):
        contract.check(bad)
    typo = ArgoCall("POST", "/api/v1/applications/x/rollback", {}, {"ID": 4}, 0.0, 200, {})
    with pytest.raises(AssertionError, match="unknown fields"):
        contract.check(typo)
    query = ArgoCall("GET", "/api/v1/applications/x", {"namespace": "a"}, None, 0.0, 200, {})
    with pytest.raises(AssertionError):
        contract.check(query)
    with pytest.raises(ValidationError):
        contract.validate(
            {"status": {"history": [{"id": "1"}]}}, {"$ref": "#/definitions/v1alpha1Application"}
        )


async def test_bodies_conform_to_the_swagger(
    swagger: dict[str, Any], argo: FakeArgoCD, http: aiohttp.ClientSession
) -> None:
    contract = Contract(swagger)
    assert ("POST", "/api/v1/applications/{name}/resource/actions/v2") in argo.routes()
    await call(http, argo, "GET", "/api/version")
    await call(http, argo, "GET", APP, params={"project": "default", "appNamespace": "argocd"})
    await call(http, argo, "GET", f"{APP}/resource-tree")
    await live(http, argo)
    await actions(http, argo)
    await run_action(http, argo, "resume")
    await call(http, argo, "POST", f"{APP}/resource/actions", params=ROLLOUT_Q, body="abort")
    await call(http, argo, "POST", f"{APP}/rollback", body={"name": "webapp", "id": 4})
    await call(http, argo, "PATCH", APP, body={**merge(None), "project": "default"})
    await call(
        http,
        argo,
        "POST",
        f"{APP}/rollback",
        body={"name": "webapp", "id": 4, "dryRun": False, "prune": False},
    )
    argo.hold_operation("webapp")
    await call(http, argo, "GET", APP)
    await call(http, argo, "DELETE", f"{APP}/operation")
    await call(http, argo, "GET", "/api/v1/applications/nope")
    await call(http, argo, "GET", APP, token=None)
    assert len(argo.calls) == 14
    assert {c.status for c in argo.calls} == {200, 400, 401, 403}
    for recorded in argo.calls:
        contract.check(recorded)
    app_answer = argo.calls[-4].answer
    contract.validate(app_answer, {"$ref": "#/definitions/v1alpha1Application"})
    assert app_answer["status"]["operationState"]["phase"] == "Running"
