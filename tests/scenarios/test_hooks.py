"""`/hooks/*` through `herald serve`'s HTTP app: Argo CD, Argo Rollouts and Alertmanager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.api.hooks import ALERT_PAGER
from bot.app import build_app
from bot.catalog import Catalog
from bot.deps import DEPS
from bot.domain.ports import ConcurrentWrite
from bot.domain.signals.alerts import AlertDecision
from bot.examples import example_manifest
from standins.slack import FakeSlack
from standins.slack_messages import SlackMessage
from tests.conftest import FEED, INGEST_TOKEN, OPS, Herald, SettingsFactory
from tests.fakes import ContendedLedgers
from tests.waiting import eventually, stays

RID = "rel-2025-10-02.3"
REV = "9f4c2b1" + "a" * 33
CATALOG = Catalog.model_validate(
    {
        "services": {
            "webapp": {
                "owners": ["U0OWNER01"],
                "environments": {
                    "prod": {
                        "argocd_app": "webapp-prod",
                        "rollout": {"name": "webapp", "namespace": "webapp"},
                    },
                    "staging": {"argocd_app": "webapp-staging"},
                },
            }
        }
    }
)
Pages = list[AlertDecision]


@pytest.fixture
def pages() -> Pages:
    return []


@pytest.fixture
async def herald(make_settings: SettingsFactory, pages: Pages) -> AsyncIterator[Herald]:
    """Herald with a catalogue that wires webapp to Argo CD, and a recording alert pager."""

    async def pager(decision: AlertDecision) -> None:
        pages.append(decision)

    app = build_app(make_settings(), catalog=CATALOG)
    app[ALERT_PAGER] = pager
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


def argocd(trigger: str, *, app: str = "webapp-prod", revision: str = REV, **extra: Any) -> Any:
    """What `template.herald-app-*` renders (see manifests/argocd/notifications-cm.yaml)."""
    body: dict[str, Any] = {
        "trigger": trigger,
        "app": app,
        "namespace": "argocd",
        "project": "default",
        "repo_url": "https://github.com/acme/gitops.git",
        "revision": revision,
        "operation_revision": revision,
        "sync_revision": revision,
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "health": "Healthy",
        "health_message": None,
        "started_at": "2025-10-02T20:20:00Z",
        "finished_at": "2025-10-02T20:30:00Z",
        "images": ["ghcr.io/acme/webapp:1.42.0", "nginx:1.25"],
        "labels": {"team": "billing"},
        "argocd_url": "https://argocd.example.com",
    }
    body.update(extra)
    return body


def rollout(trigger: str, *, image: str = "ghcr.io/acme/webapp:1.42.0", **extra: Any) -> Any:
    """What `template.herald-rollout-*` renders (manifests/rollouts/notification-configmap.yaml)."""
    body: dict[str, Any] = {
        "trigger": trigger,
        "rollout": "webapp",
        "namespace": "webapp",
        "labels": {"app.kubernetes.io/instance": "webapp-prod"},
        "phase": "Progressing",
        "message": None,
        "pod_hash": "6d8f7c9b5",
        "step": 1,
        "aborted": None,
        "images": [image, None],
        "step_analysis": None,
        "background_analysis": None,
    }
    body.update(extra)
    return body


async def hook(herald: Herald, source: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    return await herald.call("POST", f"/hooks/{source}", json=body, **kwargs)


async def feed_firsts(slack: FakeSlack, count: int) -> list[str]:
    """The first line of each top-level feed message, once there are `count` of them (and no
    more come for a moment)."""
    await eventually(lambda: len(slack.posted(FEED)) == count)
    await stays(lambda: len(slack.posted(FEED)) == count, seconds=0.2)
    return [m.text.splitlines()[0] for m in slack.posted(FEED)]


def header(event: str, release: str = RID, version: str = "v1.42.0", env: str = "prod") -> str:
    return f"release.{event} | webapp | {env} | {version} ({release})"


# -- Argo CD ----------------------------------------------------------------------------


async def test_sync_running_then_deployed_advance_the_manifest_release(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    status, body = await hook(herald, "argocd", argocd("on-sync-running"))
    assert status == 200, body
    assert body == {"release": RID, "created": False, "events": ["release.started"], "noted": False}
    status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert (status, body["events"]) == (200, ["release.deployed"])
    firsts = await feed_firsts(slack, 3)
    assert [f.split(" ", 1)[1] for f in firsts] == [
        header("planned"),
        header("started"),
        header("deployed"),
    ]
    _, detail = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert detail["release"]["state"] == "release.deployed"
    deployed = slack.posted(FEED)[2]
    assert deployed.metadata is not None
    payload = deployed.metadata["event_payload"]
    assert payload["at"].startswith("2025-10-02T20:30:00")
    assert payload["links"]["argocd"] == "https://argocd.example.com/applications/webapp-prod"


async def test_deployed_before_started_records_the_implied_start_first(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert status == 200
    assert body["events"] == ["release.started", "release.deployed"]
    await feed_firsts(slack, 3)
    started = slack.posted(FEED)[1].text
    assert header("started") in started
    assert "Reason: implied: Argo CD sent on-deployed for webapp-prod" in started


async def test_sync_failed_carries_the_operation_message_escaped(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-sync-running"))
    message = "<!channel> one or more objects failed to apply & hooks failed"
    status, body = await hook(herald, "argocd", argocd("on-sync-failed", message=message))
    assert (status, body["events"]) == (200, ["release.failed"])
    firsts = await feed_firsts(slack, 3)
    assert firsts[2].endswith(header("failed"))
    failed = slack.posted(FEED)[2].text
    assert (
        "Symptom: Argo CD sync failed: &lt;!channel&gt; one or more objects failed to apply "
        "&amp; hooks failed"
    ) in failed
    await eventually(lambda: len(slack.posted(OPS)) == 1)
    assert "<!channel>" not in slack.posted(OPS)[0].text


async def test_health_degraded_fails_the_release_with_the_health_message(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-deployed"))
    degraded = argocd(
        "on-health-degraded", health="Degraded", health_message="Deployment webapp: 2/5 ready"
    )
    status, body = await hook(herald, "argocd", degraded)
    assert (status, body["events"]) == (200, ["release.failed"])
    await feed_firsts(slack, 4)
    assert (
        "Symptom: Argo CD reports health Degraded: Deployment webapp: 2/5 ready"
        in slack.posted(FEED)[3].text
    )


async def test_a_healthy_deploy_of_a_revert_recovers_the_failed_release(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-deployed", finished_at=_ago(minutes=40)))
    degraded = argocd("on-health-degraded", health="Degraded", health_message="2/5 ready")
    assert (await hook(herald, "argocd", degraded))[1]["events"] == ["release.failed"]
    # the team reverts in Git; Argo CD syncs the revert commit and it is healthy
    revert = "7e7e7e7" + "c" * 33
    back = argocd(
        "on-deployed",
        revision=revert,
        images=["ghcr.io/acme/webapp:1.41.3"],
        finished_at=_ago(seconds=0),
    )
    status, body = await hook(herald, "argocd", back)
    revert_id = f"argo-webapp-prod-{revert[:7]}"
    assert (status, body["release"], body["restored"]) == (200, revert_id, [RID])
    _, detail = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert detail["release"]["state"] == "release.recovered"
    await eventually(lambda: any(header("recovered") in m.text for m in slack.posted(FEED)))
    recovered = next(m for m in slack.posted(FEED) if header("recovered") in m.text)
    assert f"{revert_id} (v1.41.3) is deployed and healthy" in recovered.text
    again = await hook(herald, "argocd", {**back, "trigger": "on-sync-succeeded"})
    assert "restored" not in again[1]  # nothing left to restore


async def test_a_failure_after_the_release_failed_is_a_note_in_the_ops_thread(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-sync-failed", message="hook failed"))
    status, body = await hook(
        herald, "argocd", argocd("on-health-degraded", health_message="<@U999> pods crashloop")
    )
    assert (status, body["events"], body["noted"]) == (200, [], True)
    await eventually(lambda: len(slack.posted(OPS)) == 1)
    root = slack.posted(OPS)[0]
    await eventually(lambda: len(slack.replies(OPS, root.ts)) == 1)
    note = slack.replies(OPS, root.ts)[0].text
    assert "on-health-degraded" in note
    assert "&lt;@U999&gt; pods crashloop" in note


async def test_without_a_manifest_the_release_is_created_from_argo_data(
    herald: Herald, slack: FakeSlack
) -> None:
    revision = "abcdef1" + "0" * 33
    body = argocd(
        "on-sync-running",
        app="webapp-staging",
        revision=revision,
        images=["nginx:1.25", "ghcr.io/acme/webapp:2.0.0"],
    )
    status, answer = await hook(herald, "argocd", body)
    release_id = "argo-webapp-staging-abcdef1"
    assert status == 200
    assert answer == {
        "release": release_id,
        "created": True,
        "events": ["release.started"],
        "noted": False,
    }
    _, detail = await herald.call("GET", f"/api/v1/releases/{release_id}")
    release = detail["release"]
    assert [release[k] for k in ("service", "env", "version")] == ["webapp", "staging", "2.0.0"]
    assert release["owner"] == "U0OWNER01"
    assert release["state"] == "release.started"
    assert release["manifest"]["git"] == {
        "repo": "https://github.com/acme/gitops.git",
        "commit": revision,
    }
    firsts = await feed_firsts(slack, 2)
    assert [f.split(" ", 1)[1] for f in firsts] == [
        header("planned", release_id, "v2.0.0", "staging"),
        header("started", release_id, "v2.0.0", "staging"),
    ]
    # The next trigger for the same revision finds the release Herald made.
    status, answer = await hook(herald, "argocd", {**body, "trigger": "on-deployed"})
    assert (answer["release"], answer["created"], answer["events"]) == (
        release_id,
        False,
        ["release.deployed"],
    )


async def test_the_same_delivery_twice_is_one_message(herald: Herald, slack: FakeSlack) -> None:
    await herald.post_manifest(example_manifest())
    first = await hook(herald, "argocd", argocd("on-sync-running"))
    again = await hook(herald, "argocd", argocd("on-sync-running"))
    assert first[1]["events"] == ["release.started"]
    assert again == (200, {"duplicate": True})
    await feed_firsts(slack, 2)
    await stays(lambda: len(slack.posted(FEED)) == 2, seconds=0.3)


async def test_the_engine_resending_concurrently_posts_once(
    herald: Herald, slack: FakeSlack
) -> None:
    """Argo's engine sends first and persists second: duplicates arrive side by side."""
    await herald.post_manifest(example_manifest())
    results = await asyncio.gather(
        *(hook(herald, "argocd", argocd("on-deployed")) for _ in range(4))
    )
    assert all(status == 200 for status, _ in results)
    assert sum(1 for _, body in results if body.get("duplicate")) == 3
    await feed_firsts(slack, 3)
    await stays(lambda: len(slack.posted(FEED)) == 3, seconds=0.3)


async def test_a_repeat_through_another_trigger_is_a_no_op(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-deployed"))
    status, body = await hook(herald, "rollouts", rollout("on-rollout-completed"))
    assert (status, body["release"], body["events"]) == (200, RID, [])
    await feed_firsts(slack, 3)
    await stays(lambda: len(slack.posted(FEED)) == 3, seconds=0.3)


# -- Argo Rollouts ----------------------------------------------------------------------


async def test_rollout_completed_deploys_the_release(herald: Herald, slack: FakeSlack) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-sync-running"))
    status, body = await hook(herald, "rollouts", rollout("on-rollout-completed"))
    assert (status, body["release"], body["events"]) == (200, RID, ["release.deployed"])
    assert (await feed_firsts(slack, 3))[2].endswith(header("deployed"))


async def test_analysis_failure_then_abort_is_failed_then_rolled_back(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-sync-running"))
    analysis = {"name": "webapp-6d8f7c9b5-3", "status": "Failed", "message": "5xx ratio 0.07"}
    status, body = await hook(
        herald, "rollouts", rollout("on-analysis-run-failed", step_analysis=analysis)
    )
    assert (status, body["events"]) == (200, ["release.failed"])
    aborted = rollout(
        "on-rollout-aborted",
        phase="Degraded",
        aborted=True,
        message="RolloutAborted: Rollout aborted update to revision 3",
    )
    status, body = await hook(herald, "rollouts", aborted)
    assert (status, body["events"]) == (200, ["release.rolled_back"])
    firsts = await feed_firsts(slack, 4)
    assert firsts[2].endswith(header("failed"))
    assert firsts[3].endswith(header("rolled_back"))
    assert (
        "Symptom: canary analysis failed: analysis run webapp-6d8f7c9b5-3 Failed: 5xx ratio 0.07"
        in slack.posted(FEED)[2].text
    )
    assert "Rolled back to: v1.41.3" in slack.posted(FEED)[3].text


async def test_an_abort_of_a_started_release_records_failed_then_rolled_back(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await hook(herald, "argocd", argocd("on-sync-running"))
    status, body = await hook(
        herald, "rollouts", rollout("on-rollout-aborted", message="aborted by <!here>")
    )
    assert (status, body["events"]) == (200, ["release.failed", "release.rolled_back"])
    await feed_firsts(slack, 4)
    assert "Symptom: rollout aborted: aborted by &lt;!here&gt;" in slack.posted(FEED)[2].text


async def test_a_rollout_nobody_announced_is_ignored(herald: Herald) -> None:
    status, body = await hook(herald, "rollouts", rollout("on-rollout-aborted"))
    assert status == 200
    assert body["release"] is None
    assert "post its manifest first" in body["ignored"]


# -- Refusals ---------------------------------------------------------------------------


async def test_unknown_apps_and_triggers_are_acknowledged_and_ignored(herald: Herald) -> None:
    status, body = await hook(herald, "argocd", argocd("on-deployed", app="someone-else"))
    assert status == 200
    assert "is in no service's environment" in body["ignored"]
    status, body = await hook(herald, "argocd", argocd("on-sync-status-unknown"))
    assert status == 200
    assert "does not map to a release event" in body["ignored"]


async def test_tokens_bearer_or_header_else_401(herald: Herald) -> None:
    body = argocd("on-sync-status-unknown")
    assert (await hook(herald, "argocd", body, token=None))[0] == 401
    assert (await hook(herald, "argocd", body, token="wrong"))[0] == 401
    header_ok = {"X-Herald-Token": INGEST_TOKEN}
    assert (await hook(herald, "argocd", body, token=None, headers=header_ok))[0] == 200
    status, answer = await hook(
        herald, "rollouts", body, token=None, headers={"X-Herald-Token": "wrong"}
    )
    assert (status, answer["error"]) == (401, "invalid X-Herald-Token")
    assert (await hook(herald, "alertmanager", {}, token="wrong"))[0] == 401


@pytest.mark.parametrize("source", ["argocd", "rollouts", "alertmanager"])
async def test_malformed_json_is_400(herald: Herald, source: str) -> None:
    json_type = {"Content-Type": "application/json"}
    status, body = await herald.call(
        "POST", f"/hooks/{source}", data=b'{"trigger": ', headers=json_type
    )
    assert status == 400
    assert body["error"].startswith("request body is not valid JSON")


async def test_schema_violations_are_422_with_paths(herald: Herald) -> None:
    bad = argocd("deployed", started_at="2025-10-02T20:20:00", images="nginx")
    del bad["app"]
    status, body = await hook(herald, "argocd", bad)
    assert status == 422
    assert {d["path"] for d in body["details"]} == {"trigger", "app", "started_at", "images"}
    status, body = await hook(herald, "rollouts", rollout("on-rollout-aborted", step="three"))
    assert (status, [d["path"] for d in body["details"]]) == (422, ["step"])
    alert = firing_alert()
    del alert["startsAt"]
    status, body = await hook(herald, "alertmanager", webhook([alert]))
    assert (status, [d["path"] for d in body["details"]]) == (422, ["alerts[0].startsAt"])


# -- Alertmanager -----------------------------------------------------------------------

GROUP_KEY = '{}/{scope="release"}:{alertname="HighErrorRate", service="webapp"}'


def firing_alert(**labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "service": "webapp",
            "env": "prod",
            "severity": "critical",
            **labels,
        },
        "annotations": {
            "summary": "<!channel> 5xx ratio above 5% on /checkout",
            "description": "error ratio is 0.07 & rising",
        },
        "startsAt": _ago(minutes=5),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com/graph?g0.expr=x&g0.tab=1",
        "fingerprint": "c0ffee0123456789",
    }


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    return {**alert, "status": "resolved", "endsAt": _ago(minutes=1)}


def webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "receiver": "herald",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
        "alerts": alerts,
    }


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


async def deployed_release(herald: Herald, slack: FakeSlack) -> SlackMessage:
    """The example release, deployed ten minutes ago; returns its feed root."""
    await herald.post_manifest(example_manifest())
    await herald.post_event(RID, event="release.started", at=_ago(minutes=20))
    await herald.post_event(RID, event="release.deployed", at=_ago(minutes=10))
    await eventually(lambda: len(slack.posted(FEED)) == 3)
    return slack.posted(FEED)[0]


def notes(slack: FakeSlack, channel: str, root: SlackMessage) -> list[SlackMessage]:
    return [
        m
        for m in slack.replies(channel, root.ts)
        if m.metadata and m.metadata["event_type"] == "herald_note"
    ]


async def test_a_firing_alert_is_a_note_in_the_feed_thread_escaped(
    herald: Herald, slack: FakeSlack, pages: Pages
) -> None:
    root = await deployed_release(herald, slack)
    status, body = await hook(herald, "alertmanager", webhook([firing_alert()]))
    assert status == 200
    assert body["decisions"] == [
        {
            "release": RID,
            "fingerprint": "c0ffee0123456789",
            "status": "firing",
            "severity": "critical",
            "should_page": True,
        }
    ]
    await eventually(lambda: len(notes(slack, FEED, root)) == 1)
    note = notes(slack, FEED, root)[0]
    texts = [note.text, *(b["text"]["text"] for b in note.blocks if "text" in b)]
    for text in texts:
        assert "<!channel>" not in text
    assert note.text.splitlines()[0].startswith(
        ":rotating_light: Alert firing: *HighErrorRate* | severity: critical | since "
    )
    assert "> &lt;!channel&gt; 5xx ratio above 5% on /checkout" in note.text
    assert "> error ratio is 0.07 &amp; rising" in note.text
    assert "<http://prometheus.example.com/graph?g0.expr=x&amp;g0.tab=1|alert source>" in note.text
    assert [(p.release_id, p.should_page) for p in pages] == [(RID, True)]


async def test_the_same_group_resent_at_repeat_interval_posts_nothing_new(
    herald: Herald, slack: FakeSlack, pages: Pages
) -> None:
    root = await deployed_release(herald, slack)
    alert = firing_alert()
    assert (await hook(herald, "alertmanager", webhook([alert])))[0] == 200
    await eventually(lambda: len(notes(slack, FEED, root)) == 1)
    assert await hook(herald, "alertmanager", webhook([alert])) == (200, {"duplicate": True})
    # group_interval: the group changed (a new alert joined); the old one is still dropped.
    other = {**firing_alert(alertname="HighLatency"), "fingerprint": "beef"}
    status, body = await hook(herald, "alertmanager", webhook([alert, other]))
    assert (status, body["duplicates"], len(body["decisions"])) == (200, 1, 1)
    await eventually(lambda: len(notes(slack, FEED, root)) == 2)
    await stays(lambda: len(notes(slack, FEED, root)) == 2, seconds=0.3)
    assert len(pages) == 2


async def test_a_resolved_alert_posts_a_resolved_note(
    herald: Herald, slack: FakeSlack, pages: Pages
) -> None:
    root = await deployed_release(herald, slack)
    alert = firing_alert()
    await hook(herald, "alertmanager", webhook([alert]))
    status, body = await hook(herald, "alertmanager", webhook([resolved(alert)]))
    assert (status, body["decisions"][0]["status"]) == (200, "resolved")
    assert body["decisions"][0]["should_page"] is False
    await eventually(lambda: len(notes(slack, FEED, root)) == 2)
    text = notes(slack, FEED, root)[1].text
    assert text.startswith(":white_check_mark: Alert resolved: *HighErrorRate* | severity: crit")
    assert "(4m)" in text
    assert [p.status for p in pages] == ["firing", "resolved"]


async def test_alerts_that_concern_no_release_are_acknowledged_and_ignored(
    herald: Herald, slack: FakeSlack, pages: Pages
) -> None:
    root = await deployed_release(herald, slack)
    no_service = firing_alert()
    del no_service["labels"]["service"]
    other_service = {**firing_alert(service="billing"), "fingerprint": "b1"}
    long_ago = {**firing_alert(), "fingerprint": "old", "startsAt": _ago(hours=5)}
    status, body = await hook(
        herald, "alertmanager", webhook([no_service, other_service, long_ago])
    )
    assert (status, body["ignored"], body["decisions"]) == (200, 3, [])
    await stays(lambda: notes(slack, FEED, root) == [] and pages == [], seconds=0.3)


async def test_release_scoped_alert_on_a_failed_release_goes_to_the_ops_thread(
    herald: Herald, slack: FakeSlack
) -> None:
    await herald.post_manifest(example_manifest())
    await herald.post_event(RID, event="release.started")
    await herald.post_event(RID, event="release.failed", symptom="5xx")
    await eventually(lambda: len(slack.posted(OPS)) == 1)
    alert = firing_alert(scope="release", release_id=RID, severity="warning", service="x")
    status, body = await hook(herald, "alertmanager", webhook([alert]))
    assert status == 200
    assert body["decisions"][0]["should_page"] is False
    root = slack.posted(OPS)[0]
    await eventually(lambda: len(notes(slack, OPS, root)) == 1)
    assert "*HighErrorRate* | severity: warning" in notes(slack, OPS, root)[0].text


# -- Failures are retryable -------------------------------------------------------------


async def test_a_failure_after_the_claim_answers_5xx_and_the_retry_acts(
    herald: Herald, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argo and Alertmanager retry 5xx: the claim is withdrawn so the retry is not a dup."""
    await herald.post_manifest(example_manifest())

    async def broken(**_: Any) -> Any:
        raise RuntimeError("database went away")

    alert = firing_alert(scope="release", release_id=RID)
    with monkeypatch.context() as patched:
        patched.setattr("bot.api.hooks.routes.take_deploy_signal", broken)
        patched.setattr("bot.api.hooks.routes.take_alerts", broken)
        assert (await hook(herald, "argocd", argocd("on-deployed")))[0] == 500
        assert (await hook(herald, "alertmanager", webhook([alert])))[0] == 500
    status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert (status, body["events"]) == (200, ["release.started", "release.deployed"])
    status, body = await hook(herald, "alertmanager", webhook([alert]))
    assert (status, len(body["decisions"])) == (200, 1)


async def test_a_domain_error_without_an_http_meaning_is_answered_as_a_bug(
    herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its message is not shown (it may quote the database); the answer is a retryable 500."""

    async def broken(**_: Any) -> Any:
        raise ConcurrentWrite("UNIQUE constraint failed: releases.id")

    with monkeypatch.context() as patched:
        patched.setattr("bot.api.hooks.routes.take_deploy_signal", broken)
        status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert (status, body["error"]) == (
        500,
        "internal error; quote the correlation id when reporting it",
    )
    status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert (status, body["events"]) == (200, ["release.started", "release.deployed"])


async def test_a_release_changed_concurrently_on_every_attempt_answers_503_retry_after(
    herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempts run out: 503 + Retry-After (a retryable answer), the claim is withdrawn."""
    await herald.post_manifest(example_manifest())
    alert = firing_alert(scope="release", release_id=RID)
    contended = ContendedLedgers()
    with monkeypatch.context() as patched:
        patched.setattr(herald.runner.app[DEPS], "ledgers", contended)
        for source, body in (("argocd", argocd("on-deployed")), ("alertmanager", webhook([alert]))):
            async with herald.session.post(
                f"{herald.url}/hooks/{source}",
                json=body,
                headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            ) as response:
                answer = (response.status, response.headers.get("Retry-After"))
                error = (await response.json())["error"]
            assert answer == (503, "1"), source
            assert error == "the release changed concurrently; send it again"
    assert contended.attempts == 6
    status, body = await hook(herald, "argocd", argocd("on-deployed"))
    assert (status, body["events"]) == (200, ["release.started", "release.deployed"])
    status, body = await hook(herald, "alertmanager", webhook([alert]))
    assert (status, len(body["decisions"])) == (200, 1)
