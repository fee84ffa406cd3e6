"""ArgoCDClient against the fake Argo CD over real HTTP: status, actions, rollback, errors."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest

from bot.domain.deploy.tool import (
    DeployFailure,
    DeployTarget,
    DeployTool,
    DeployToolError,
    RolloutAction,
    RolloutRef,
)
from bot.integrations.argocd import ArgoCDClient, parse_rollout
from standins.argocd import FakeArgoCD, FakeRollout
from tests.specs import load_spec
from tests.standins.test_fake_argocd import Contract

TOKEN = "argocd-test-token"
REVS = ("a" * 40, "b" * 40, "c" * 40)
ACTOR = "U_OWNER"  # the Slack user id every write names
TARGET = DeployTarget("webapp", project="default", rollout=RolloutRef("webapp", "web"))


def add_webapp(fake: FakeArgoCD, **rollout: Any) -> None:
    fake.add_app(
        "webapp",
        revision=REVS[2],
        history=[(3, REVS[0]), (4, REVS[1]), (5, REVS[2])],
        self_heal=True,
        rollout=FakeRollout("webapp", "web", **rollout),
    )


@pytest.fixture
async def argo() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        add_webapp(fake)
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def client(argo: FakeArgoCD, session: aiohttp.ClientSession) -> ArgoCDClient:
    return ArgoCDClient(session=session, base_url=argo.url + "/", token=TOKEN, timeout_seconds=1)


async def failure(call: Awaitable[object]) -> DeployToolError:
    with pytest.raises(DeployToolError) as info:
        await call
    return info.value


def test_the_client_is_a_deploy_tool(client: ArgoCDClient) -> None:
    tool: DeployTool = client
    assert TOKEN not in repr(tool)


# -- reading --------------------------------------------------------------------------------


async def test_server_version_is_cached(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    assert await client.server_version() == (3, 1)
    assert await client.server_version() == (3, 1)
    assert [c.path for c in argo.calls] == ["/api/version"]


async def test_app_status(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    app = await client.get_app(TARGET)
    assert (app.name, app.sync_status, app.health_status) == ("webapp", "Synced", "Suspended")
    assert (app.revision, app.auto_sync, app.self_heal) == (REVS[2], True, True)
    assert app.health_message == "CanaryPauseStep"
    assert [(h.id, h.revision) for h in app.history] == [(3, REVS[0]), (4, REVS[1]), (5, REVS[2])]
    assert all(h.deployed_at is not None for h in app.history)
    assert app.images == ("ghcr.io/acme/webapp:bbbbbbb", "ghcr.io/acme/webapp:ccccccc")
    assert (app.operation_phase, app.operation_running) == (None, False)
    assert argo.calls[-1].query == {"project": "default"}


async def test_rollout_status_step_weights_and_pause(client: ArgoCDClient) -> None:
    ro = await client.get_rollout(TARGET)
    assert (ro.name, ro.namespace, ro.phase) == ("webapp", "web", "Paused")
    assert (ro.step_index, len(ro.steps)) == (1, 5)
    assert ro.steps[3].pause and ro.steps[3].pause_seconds == 600
    assert ro.steps[1].pause and ro.steps[1].pause_seconds is None
    assert (ro.set_weight, ro.actual_weight) == (20, 20)  # 2 of 10 replicas
    assert (ro.paused, ro.aborted, ro.fully_promoted) == (True, False, False)
    assert ro.pause_reasons == ("CanaryPauseStep",)
    assert ro.in_flight
    before = ro.generation
    await client.run_action(TARGET, RolloutAction.RESUME, actor=ACTOR)
    ro = await client.get_rollout(TARGET)
    assert (ro.step_index, ro.set_weight, ro.actual_weight, ro.paused) == (3, 50, 50, True)
    assert ro.generation != before


async def test_traffic_routed_weights() -> None:
    async with FakeArgoCD() as fake, aiohttp.ClientSession() as session:
        add_webapp(fake, traffic_routing=True, step_index=3)
        client = ArgoCDClient(session=session, base_url=fake.url, token=TOKEN)
        ro = await client.get_rollout(TARGET)
        assert (ro.step_index, ro.set_weight, ro.actual_weight) == (3, 50, 50)
        await client.run_action(TARGET, RolloutAction.PROMOTE_FULL, actor=ACTOR)
        ro = await client.get_rollout(TARGET)
        assert (ro.set_weight, ro.actual_weight, ro.fully_promoted) == (100, 100, True)
        assert not ro.in_flight


async def test_rollout_found_in_the_resource_tree(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    target = DeployTarget("webapp")
    ro = await client.get_rollout(target)
    assert (ro.name, ro.namespace) == ("webapp", "web")
    await client.list_actions(target)
    assert sum(c.path.endswith("/resource-tree") for c in argo.calls) == 1  # remembered
    argo.add_app("plain", revision="d" * 40)
    error = await failure(client.get_rollout(DeployTarget("plain")))
    assert error.kind is DeployFailure.NOT_FOUND
    assert "manages no Argo Rollout" in error.message


# -- actions --------------------------------------------------------------------------------


async def test_list_and_run_every_action(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    assert await client.list_actions(TARGET) == {
        "abort": True,
        "pause": True,
        "promote-full": True,
        "restart": True,
        "resume": True,
        "retry": False,
        "skip-current-step": True,
    }
    await client.run_action(TARGET, RolloutAction.SKIP_CURRENT_STEP, actor=ACTOR)
    assert (await client.get_rollout(TARGET)).step_index == 3
    await client.run_action(TARGET, RolloutAction.PAUSE, actor=ACTOR)
    ro = await client.get_rollout(TARGET)
    assert ro.paused and "ManualPause" in ro.pause_reasons
    assert (await client.list_actions(TARGET))["pause"] is False
    await client.run_action(TARGET, RolloutAction.ABORT, actor=ACTOR)
    ro = await client.get_rollout(TARGET)
    assert (ro.aborted, ro.set_weight, ro.actual_weight, ro.phase) == (True, 0, 0, "Degraded")
    assert not ro.in_flight
    await client.run_action(TARGET, RolloutAction.RETRY, actor=ACTOR)
    ro = await client.get_rollout(TARGET)
    assert (ro.aborted, ro.step_index) == (False, 0)  # manually paused still: waits at step 0
    await client.run_action(TARGET, RolloutAction.RESUME, actor=ACTOR)
    assert (await client.get_rollout(TARGET)).step_index == 1
    await client.run_action(TARGET, RolloutAction.PROMOTE_FULL, actor=ACTOR)
    ro = await client.get_rollout(TARGET)
    assert (ro.fully_promoted, ro.step_index, ro.phase) == (True, 5, "Healthy")
    runs = [c for c in argo.calls if c.method == "POST"]
    assert {c.path for c in runs} == {"/api/v1/applications/webapp/resource/actions/v2"}
    assert runs[0].body == {
        "name": "webapp",
        "namespace": "web",
        "resourceName": "webapp",
        "group": "argoproj.io",
        "version": "v1alpha1",
        "kind": "Rollout",
        "action": "skip-current-step",
        "project": "default",
    }


async def test_v1_actions_on_argo_cd_3_0(session: aiohttp.ClientSession) -> None:
    async with FakeArgoCD(version="v3.0.5") as fake:
        add_webapp(fake)
        client = ArgoCDClient(session=session, base_url=fake.url, token=TOKEN)
        assert "pause" not in await client.list_actions(TARGET)
        await client.run_action(TARGET, RolloutAction.RESUME, actor=ACTOR)
        assert (await client.get_rollout(TARGET)).step_index == 3
        run = next(c for c in fake.calls if c.method == "POST")
        assert run.path == "/api/v1/applications/webapp/resource/actions"
        assert run.body == "resume"
        assert run.query["resourceName"] == "webapp"
        error = await failure(client.run_action(TARGET, RolloutAction.PAUSE, actor=ACTOR))
        assert error.kind is DeployFailure.UNSUPPORTED
        assert "Argo CD 3.0 has no `pause` action" in error.message
        assert "3.1" in error.message


# -- rollback, auto-sync, operations ------------------------------------------------------


async def test_rollback_needs_auto_sync_off(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    error = await failure(client.rollback(TARGET, history_id=4, requested_by="U_ONCALL"))
    assert error.kind is DeployFailure.AUTO_SYNC
    assert "auto-sync off first" in error.message
    await client.set_auto_sync(TARGET, enabled=False, actor=ACTOR)
    await client.set_auto_sync(TARGET, enabled=False, actor=ACTOR)  # idempotent: no second PATCH
    assert [c.method for c in argo.calls].count("PATCH") == 1
    assert (await client.get_app(TARGET)).auto_sync is False
    error = await failure(client.rollback(TARGET, history_id=42, requested_by="U_ONCALL"))
    assert error.kind is DeployFailure.INVALID
    assert "does not have deployment with id 42" in error.message
    await client.rollback(TARGET, history_id=4, requested_by="U_ONCALL")
    app = await client.get_app(TARGET)
    assert (app.revision, app.sync_status, app.history[-1].id) == (REVS[1], "OutOfSync", 6)
    assert (await client.get_rollout(TARGET)).fully_promoted  # back on the stable version
    await client.set_auto_sync(TARGET, enabled=True, actor=ACTOR)  # restores prune + selfHeal
    assert argo.app("webapp").automated == {"prune": True, "selfHeal": True}
    app = await client.get_app(TARGET)
    assert (app.auto_sync, app.self_heal, app.revision) == (True, True, REVS[2])
    patch = next(c for c in argo.calls if c.method == "PATCH")
    assert patch.body == {
        "name": "webapp",
        "patchType": "merge",
        "project": "default",
        "patch": json.dumps({"spec": {"syncPolicy": {"automated": None}}}),
    }


async def test_auto_sync_enabled_false_is_turned_back_on(
    argo: FakeArgoCD, client: ArgoCDClient
) -> None:
    argo.app("webapp").automated = {"prune": True, "selfHeal": False, "enabled": False}
    assert (await client.get_app(TARGET)).auto_sync is False
    await client.set_auto_sync(TARGET, enabled=True, actor=ACTOR)
    assert argo.app("webapp").automated == {"prune": True, "selfHeal": False, "enabled": True}


async def test_operation_in_progress_and_terminate(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    await client.set_auto_sync(TARGET, enabled=False, actor=ACTOR)
    argo.hold_operation("webapp")
    app = await client.get_app(TARGET)
    assert (app.operation_phase, app.operation_running) == ("Running", True)
    assert app.operation_message and "waiting for healthy state" in app.operation_message
    error = await failure(client.rollback(TARGET, history_id=4, requested_by="U_ONCALL"))
    assert error.kind is DeployFailure.IN_PROGRESS
    assert "already running an operation" in error.message
    await client.terminate_operation(TARGET, actor=ACTOR)
    app = await client.get_app(TARGET)
    assert (app.operation_phase, app.operation_message) == ("Failed", "Operation terminated")
    error = await failure(client.terminate_operation(TARGET, actor=ACTOR))
    assert error.kind is DeployFailure.INVALID
    assert "no operation running" in error.message
    await client.rollback(TARGET, history_id=4, requested_by="U_ONCALL")


async def test_app_namespace_and_project_are_sent(
    argo: FakeArgoCD, session: aiohttp.ClientSession
) -> None:
    argo.add_app(
        "billing",
        namespace="team-a",
        project="payments",
        revision="d" * 40,
        auto_sync=False,
        rollout=FakeRollout("billing", "pay"),
    )
    target = DeployTarget("billing", project="payments", app_namespace="team-a")
    client = ArgoCDClient(session=session, base_url=argo.url, token=TOKEN)
    assert (await client.get_app(target)).name == "billing"
    await client.get_rollout(target)
    await client.run_action(target, RolloutAction.RESUME, actor=ACTOR)
    await client.rollback(target, history_id=0, requested_by="U_OWNER")
    await client.set_auto_sync(target, enabled=True, actor=ACTOR)
    scope = {"appNamespace": "team-a", "project": "payments"}
    for c in argo.calls:
        if c.path == "/api/version":
            continue
        sent = c.query if c.method in ("GET", "DELETE") else c.body
        assert scope.items() <= sent.items(), (c.method, c.path)
    assert (await failure(client.get_app(DeployTarget("billing")))).kind is DeployFailure.NOT_FOUND


# -- errors -----------------------------------------------------------------------------------


async def test_slow_argo_cd_times_out_within_the_timeout(
    argo: FakeArgoCD, session: aiohttp.ClientSession
) -> None:
    client = ArgoCDClient(session=session, base_url=argo.url, token=TOKEN, timeout_seconds=0.3)
    argo.slow_next(5)
    started = time.monotonic()
    error = await failure(client.get_app(TARGET))
    assert time.monotonic() - started < 1.0
    assert error.kind is DeployFailure.TIMEOUT
    assert error.message == "Argo CD did not answer in 0.3 s; nothing was changed."
    await client.server_version()
    argo.slow_next(5)
    error = await failure(client.run_action(TARGET, RolloutAction.ABORT, actor=ACTOR))
    assert error.kind is DeployFailure.TIMEOUT
    assert "may or may not have been made" in error.message


async def test_unreachable_and_failing_argo_cd(
    argo: FakeArgoCD, client: ArgoCDClient, session: aiohttp.ClientSession
) -> None:
    argo.set_down(True)
    error = await failure(client.get_app(TARGET))
    assert error.kind is DeployFailure.UNAVAILABLE
    assert error.message.startswith(f"Could not reach Argo CD at {argo.url}")
    argo.set_down(False)
    argo.fail_next(503)
    error = await failure(client.get_app(TARGET))
    assert error.kind is DeployFailure.UNAVAILABLE
    assert "HTTP 503" in error.message
    argo.fail_next(500)
    assert (await failure(client.get_rollout(TARGET))).kind is DeployFailure.UNAVAILABLE
    gone = FakeArgoCD()
    await gone.start()
    url = gone.url
    await gone.close()
    refused = ArgoCDClient(session=session, base_url=url, token=TOKEN)
    error = await failure(refused.rollback(TARGET, history_id=4, requested_by="U"))
    assert error.kind is DeployFailure.UNAVAILABLE
    assert error.message.endswith("nothing was changed.")


async def test_unknown_app_and_rollout(argo: FakeArgoCD, client: ArgoCDClient) -> None:
    error = await failure(client.get_app(DeployTarget("ghost")))  # 403 without project
    assert error.kind is DeployFailure.NOT_FOUND
    assert error.message.startswith(
        "Argo CD app ghost not found (or Herald's account may not see it)"
    )
    error = await failure(client.get_app(DeployTarget("ghost", project="default")))  # 404
    assert error.kind is DeployFailure.NOT_FOUND
    assert "ghost" in error.message
    error = await failure(
        client.run_action(DeployTarget("ghost"), RolloutAction.RESUME, actor=ACTOR)
    )
    assert error.kind is DeployFailure.NOT_FOUND
    wrong = DeployTarget("webapp", rollout=RolloutRef("other", "web"))
    error = await failure(client.get_rollout(wrong))
    assert error.kind is DeployFailure.NOT_FOUND
    assert "Rollout argoproj.io other not found" in error.message


async def test_rejected_token(
    argo: FakeArgoCD, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = ArgoCDClient(session=session, base_url=argo.url, token="expired-secret-token")
    error = await failure(client.get_app(TARGET))
    assert error.kind is DeployFailure.DENIED
    assert error.message.startswith("Argo CD rejected Herald's token (ARGOCD_TOKEN)")
    assert "expired-secret-token" not in error.message + caplog.text + repr(client)
    good = ArgoCDClient(session=session, base_url=argo.url, token=TOKEN)
    await good.get_rollout(TARGET)
    assert caplog.text and TOKEN not in caplog.text


def line(action: str, user: str, outcome: str) -> dict[str, object]:
    return {"action": action, "app": "webapp", "user": user, "outcome": outcome}


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, object]]]:
    keys = ("action", "app", "user", "outcome")
    return [
        (r.levelname, {k: r.__dict__.get(k) for k in keys})
        for r in caplog.records
        if r.name == "bot.integrations.argocd.client" and "outcome" in r.__dict__
    ]


async def test_every_write_logs_action_app_user_and_outcome(
    argo: FakeArgoCD, client: ArgoCDClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.integrations.argocd")
    await failure(client.rollback(TARGET, history_id=4, requested_by="U_ONCALL"))
    await client.set_auto_sync(TARGET, enabled=False, actor="U_ONCALL")
    await client.set_auto_sync(TARGET, enabled=False, actor="herald")
    await client.rollback(TARGET, history_id=4, requested_by="U_ONCALL")
    await client.run_action(TARGET, RolloutAction.PROMOTE_FULL, actor="U_OWNER")
    argo.hold_operation("webapp")
    await client.terminate_operation(TARGET, actor="U_ONCALL")

    assert audit_lines(caplog) == [
        ("WARNING", line("rollback", "U_ONCALL", "auto_sync")),
        ("INFO", line("auto-sync off", "U_ONCALL", "done")),
        ("INFO", line("auto-sync off", "herald", "unchanged")),
        ("INFO", line("rollback", "U_ONCALL", "done")),
        ("INFO", line("promote-full", "U_OWNER", "done")),
        ("INFO", line("terminate", "U_ONCALL", "done")),
    ]
    rollback = next(r for r in caplog.records if r.__dict__.get("action") == "rollback")
    assert rollback.__dict__["history_id"] == 4


async def test_pause_promote_abort_and_sync_policy_name_the_acting_user(
    client: ArgoCDClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.integrations.argocd")
    await client.run_action(TARGET, RolloutAction.PAUSE, actor="U_OWNER")
    await client.run_action(TARGET, RolloutAction.PROMOTE_FULL, actor="U_RELEASER")
    await client.run_action(TARGET, RolloutAction.ABORT, actor="U_ONCALL")
    await client.set_auto_sync(TARGET, enabled=False, actor="herald")  # the auto-rollback
    await client.set_auto_sync(TARGET, enabled=True, actor="U_OWNER")
    assert audit_lines(caplog) == [
        ("INFO", line("pause", "U_OWNER", "done")),
        ("INFO", line("promote-full", "U_RELEASER", "done")),
        ("INFO", line("abort", "U_ONCALL", "done")),
        ("INFO", line("auto-sync off", "herald", "done")),
        ("INFO", line("auto-sync on", "U_OWNER", "done")),
    ]
    messages = [r.getMessage() for r in caplog.records if "outcome" in r.__dict__]
    assert messages[0] == "Argo CD pause of webapp by U_OWNER: done"


async def test_a_write_that_times_out_logs_the_call_and_the_write(
    argo: FakeArgoCD, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = ArgoCDClient(session=session, base_url=argo.url, token=TOKEN, timeout_seconds=1.0)
    await client.server_version()
    await client.list_actions(TARGET)
    argo.slow_next(3)
    error = await failure(client.run_action(TARGET, RolloutAction.ABORT, actor="U_ONCALL"))
    assert error.kind is DeployFailure.TIMEOUT
    calls = [r for r in caplog.records if r.name == "bot.integrations.http"]
    assert [(r.levelname, r.__dict__["error"]) for r in calls] == [("WARNING", "timeout")]
    assert audit_lines(caplog) == [
        ("WARNING", {"action": "abort", "app": "webapp", "user": "U_ONCALL", "outcome": "timeout"})
    ]
    assert TOKEN not in caplog.text


# -- parsing edge cases -----------------------------------------------------------------------


def rollout_manifest(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    steps = [
        {"setWeight": 10},
        {"pause": {"duration": "1h30m"}},
        {"analysis": {}},
        {"setWeight": 60},
        {"pause": {"duration": 45}},
    ]
    return {
        "metadata": {"name": "r", "namespace": "n"},
        "spec": {"strategy": {"canary": {"steps": steps}}, **spec},
        "status": {"currentPodHash": "new", "stableRS": "old", **status},
    }


def test_parse_rollout_weights() -> None:
    ro = parse_rollout(rollout_manifest({"currentStepIndex": 2, "phase": "Progressing"}))
    assert (ro.set_weight, ro.actual_weight, ro.paused) == (10, None, False)
    assert [s.pause_seconds for s in ro.steps if s.pause] == [5400, 45]
    assert ro.steps[2].set_weight is None and not ro.steps[2].pause
    ro = parse_rollout(rollout_manifest({"currentStepIndex": 4, "abort": True}))
    assert (ro.set_weight, ro.actual_weight, ro.aborted, ro.in_flight) == (0, 0, True, False)
    ro = parse_rollout(rollout_manifest({"currentStepIndex": 5}))
    assert ro.set_weight == 100
    ro = parse_rollout(rollout_manifest({}, paused=True))
    assert (ro.step_index, ro.set_weight, ro.paused, ro.pause_reasons) == (
        None,
        0,
        True,
        ("ManualPause",),
    )
    ro = parse_rollout(
        rollout_manifest({"currentStepIndex": 3, "availableReplicas": 4, "updatedReplicas": 1})
    )
    assert (ro.set_weight, ro.actual_weight) == (60, 25)
    blue_green = parse_rollout(
        {
            "metadata": {"name": "bg"},
            "spec": {"strategy": {}},
            "status": {"currentPodHash": "x", "stableRS": "x"},
        }
    )
    assert (blue_green.step_index, blue_green.fully_promoted, blue_green.set_weight) == (
        None,
        True,
        100,
    )


# -- contract -------------------------------------------------------------------------------


async def test_everything_the_client_sends_is_in_the_swagger(
    argo: FakeArgoCD, client: ArgoCDClient
) -> None:
    contract = Contract(load_spec("argocd_swagger.json"))
    await client.get_app(TARGET)
    await client.get_rollout(DeployTarget("webapp", app_namespace="argocd"))
    await client.list_actions(TARGET)
    await client.run_action(TARGET, RolloutAction.RESUME, actor=ACTOR)
    await client.set_auto_sync(TARGET, enabled=False, actor=ACTOR)
    await client.rollback(TARGET, history_id=3, requested_by="U_ONCALL")
    argo.hold_operation("webapp")
    await client.terminate_operation(TARGET, actor=ACTOR)
    await failure(client.get_app(DeployTarget("ghost")))
    assert len(argo.calls) >= 10
    for recorded in argo.calls:
        contract.check(recorded)
