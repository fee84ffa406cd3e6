"""`/deploy` end to end: signed requests through Bolt, Argo CD stand-in, audit, threads."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from sqlmodel import col, select

from bot.deps import DEPS
from bot.slack.ids import ActionId
from bot.store.inbox import record_once
from bot.store.tables import AuditRow
from standins import slack_requests
from tests.conftest import FEED
from tests.scenarios.deploy.world import APP, NEW_SHA, OLD_SHA, DeployWorld
from tests.slack.reply import Button
from tests.waiting import eventually, stays


async def test_status_shows_argo_cd_rollout_and_release(world: DeployWorld) -> None:
    status = await world.deploy("status webapp")  # acked with an empty 200, answered later
    assert status.ephemeral  # shown to the asker only
    reply = status.text
    assert "*webapp* prod — v1.42.0 (rel-2) · deployed" in reply
    assert "Argo CD: Synced / Suspended · revision 9f4c2b1 · auto-sync on" in reply
    assert "Rollout: Paused · step 2 of 5, weight 20%, actual 20%, paused" in reply
    assert "Owner: @team-billing · Rollback target: v1.41.3" in reply
    assert f"{world.argocd.url}/applications/{APP}|Argo CD" in reply
    assert "feed message" in reply
    assert world.writes() == []


async def test_status_without_a_service_lists_releases_in_flight(world: DeployWorld) -> None:
    reply = (await world.deploy("status")).text
    assert "webapp prod v1.42.0 (rel-2) — deployed · @team-billing" in reply
    assert "rel-1" not in reply


async def test_unknown_service_gets_suggestions_in_the_ack(world: DeployWorld) -> None:
    ack = await world.send("status webap")
    assert ack.status == 200
    assert "Did you mean webapp?" in json.loads(ack.body)["text"]


async def test_promote_next_resumes_from_the_pause_step_once(world: DeployWorld) -> None:
    reply = (await world.deploy("promote webapp")).text
    assert (
        "Promoted: step 2 of 5, weight 20%, actual 20%, paused → step 4 of 5, weight 50%" in reply
    )
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.weight == 50
    assert world.writes() == [f"POST /api/v1/applications/{APP}/resource/actions/v2"]


async def test_promote_to_a_weight_and_full(world: DeployWorld) -> None:
    reply = (await world.deploy("promote webapp prod 60%")).text
    # 60% lies past the last canary step (50%): the rollout is promoted fully
    assert "step 2 of 5, weight 20%, actual 20%, paused → fully promoted (100%)" in reply
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.weight == 100


async def test_promote_full(world: DeployWorld) -> None:
    reply = await world.deploy("promote webapp full")
    assert "Promoted fully: fully promoted (100%)" in reply.text
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.fully_promoted


async def test_double_click_promote_advances_once(world: DeployWorld) -> None:
    promote = (await world.deploy("status webapp")).button(ActionId.PROMOTE_NEXT)
    first, second = await asyncio.gather(
        world.click(promote, user="U0OWNER"), world.click(promote, user="U0MEMBER")
    )
    replies = [first.text, second.text]
    assert sum(r.startswith("Promoted") for r in replies) == 1
    assert sum("Already done by <@U0" in r for r in replies) == 1
    assert len([w for w in world.writes() if "actions" in w]) == 1
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.weight == 50


async def test_stranger_is_refused_and_nothing_changes(world: DeployWorld) -> None:
    reply = (await world.deploy("promote webapp", user="U0STRANGER")).text
    assert "Only owners of webapp" in reply
    assert world.writes() == []
    rows = await audit_rows(world)
    assert [(r.actor, r.action, r.decision) for r in rows] == [("U0STRANGER", "promote", "denied")]


async def test_group_member_may_pause(world: DeployWorld) -> None:
    reply = (await world.deploy("pause webapp", user="U0MEMBER")).text
    assert reply.startswith("Paused: step 2 of 5, weight 20%")
    assert world.slack.calls_to("usergroups.users.list")


async def test_failing_group_lookup_refuses(world: DeployWorld) -> None:
    world.slack.fail_next("usergroups.users.list", status=500)
    reply = await world.deploy("promote webapp", user="U0MEMBER")
    assert "could not check membership" in reply.text
    assert world.writes() == []


async def test_argo_cd_down_says_nothing_was_changed(world: DeployWorld) -> None:
    world.argocd.slow_next(3.0, times=5)
    reply = (await world.deploy("promote webapp", wait=8)).text
    assert "Argo CD did not answer in 1 s; nothing was changed" in reply


async def test_a_retried_command_acts_once(world: DeployWorld) -> None:
    await world.deploy("promote webapp", trigger="same.trigger")
    again = await world.send("promote webapp", trigger="same.trigger")
    assert (again.status, again.body) == (200, "")
    await stays(lambda: world.replies(again.key) == [], seconds=0.3)
    assert len([w for w in world.writes() if "actions" in w]) == 1


async def test_rollback_of_a_canary_in_flight_aborts_after_confirmation(world: DeployWorld) -> None:
    confirm = await world.deploy("rollback webapp")
    assert "Abort the canary of `webapp` prod" in confirm.text
    assert world.writes() == []
    go = confirm.button(ActionId.ROLLBACK_CONFIRM)
    assert go.confirm is not None and go.confirm["style"] == "danger"
    done = await world.click(go)
    assert "Aborted the canary" in done.text
    rollout = world.argocd.app(APP).rollout
    assert rollout is not None and rollout.aborted
    _, release = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert release["release"]["state"] == "release.rolled_back"
    again = await world.click(go, user="U0ADMIN")
    assert "already started by <@U0OWNER>" in again.text


async def test_aborting_a_canary_with_auto_sync_on_says_what_happens_next(
    world: DeployWorld,
) -> None:
    confirm = await world.deploy("rollback webapp")
    assert confirm.text.endswith(
        "traffic goes back to the stable version. "
        "Automated sync is on: the Rollout stays aborted on the bad revision until Git changes."
    )
    done = (await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))).text
    next_steps = (
        "Automated sync is on for `webapp-prod`, so Argo CD keeps the bad revision in the "
        "Rollout: it stays aborted until the change is reverted or fixed in Git (a retry before "
        "that starts the same canary again)."
    )
    assert done == f"Aborted the canary of `webapp` prod; traffic is back on stable. {next_steps}"
    assert world.argocd.app(APP).auto_sync  # an abort leaves the sync policy alone
    assert world.writes() == [f"POST /api/v1/applications/{APP}/resource/actions/v2"]
    await eventually(  # the note in the release's thread: its ops thread, once it failed
        lambda: any(next_steps in m.text for m in world.slack.messages("COPS"))
    )


async def test_aborting_a_canary_without_auto_sync_says_nothing_of_git(world: DeployWorld) -> None:
    world.argocd.app(APP).automated = None
    confirm = await world.deploy("rollback webapp")
    assert "Automated sync" not in confirm.text
    done = (await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))).text
    assert done == "Aborted the canary of `webapp` prod; traffic is back on stable."


async def test_rollback_with_auto_sync_turns_it_off_and_says_so(world: DeployWorld) -> None:
    await world.deploy("promote webapp full")
    confirm = await world.deploy("rollback webapp 1.41.3")
    assert "back to 1.41.3 (Argo CD `webapp-prod` history #1, revision 1a2b3c4)" in confirm.text
    assert "Automated sync is on" in confirm.text
    reply = (await world.click(confirm.button(ActionId.ROLLBACK_CONFIRM))).text
    assert (
        "Rolled `webapp` prod back to 1.41.3 (Argo CD `webapp-prod` history #1, revision 1a2b3c4)."
        in reply
    )
    assert "Turned automated sync OFF" in reply and "Git" in reply
    app = world.argocd.app(APP)
    assert not app.auto_sync
    assert app.revision == OLD_SHA
    writes = world.writes()
    assert writes.index(f"PATCH /api/v1/applications/{APP}") < writes.index(
        f"POST /api/v1/applications/{APP}/rollback"
    )
    await eventually(
        lambda: any("Turned automated sync OFF" in m.text for m in world.slack.messages("COPS"))
    )


async def test_rollback_without_auto_sync_uses_the_last_good_release(world: DeployWorld) -> None:
    confirm = (await world.deploy("rollback webapp staging")).text
    assert "Automated sync" not in confirm
    assert NEW_SHA[:7] not in confirm.split("revision")[-1]


async def test_actions_reply_in_the_release_thread(world: DeployWorld) -> None:
    await world.deploy("promote webapp")

    def noted() -> bool:
        roots = [m for m in world.slack.posted(FEED) if "planned" in m.text and "(rel-2)" in m.text]
        replies = world.slack.replies(FEED, roots[0].ts) if roots else []
        return any("`/deploy promote` by <@U0OWNER>" in r.text for r in replies)

    await eventually(noted)


async def audit_rows(world: DeployWorld) -> list[AuditRow]:
    database = world.herald.runner.app[DEPS].database
    async with database.transaction() as session:
        return list((await session.execute(select(AuditRow).order_by(col(AuditRow.id)))).scalars())


async def test_take_command_names_one_incident_commander(world: DeployWorld) -> None:
    assert (await world.herald.post_event("rel-2", event="release.failed", symptom="5xx"))[0] == 201
    await eventually(lambda: len(world.slack.posted("COPS")) == 1)
    incident = world.slack.posted("COPS")[0]
    take = Button.of(incident.blocks[-1]["elements"][0])
    assert (take.action_id, take.value) == (ActionId.TAKE_COMMAND, "rel-2")
    first = await world.click(take, user="U0ONCALL")
    assert "You are the incident commander" in first.text
    second = await world.click(take, user="U0MEMBER")
    assert "<@U0ONCALL> took command at" in second.text
    await eventually(
        lambda: any(
            "<@U0ONCALL> is the incident commander" in r.text
            for r in world.slack.replies("COPS", incident.ts)
        )
    )


async def test_deploy_metrics_shows_dora_figures(world: DeployWorld) -> None:
    body = (await world.deploy("metrics webapp prod 30d")).block_text
    assert "*Deployment frequency*\n" in body
    assert " · 2 deploys" in body  # both seeded deploys, however recent (the window holds now)
    assert "not enough data" in body  # two deploys: too few for a change failure rate
    assert (await world.deploy("metrics 12w")).text


async def test_a_command_left_unfinished_too_long_ago_is_not_run_and_the_user_is_told(
    world: DeployWorld,
) -> None:
    body = slack_requests.slash_command(
        "rollback webapp",
        user="U0OWNER",
        trigger_id="old.trigger",
        response_url=world.slack.response_url("old"),
    )
    request = {name: values[0] for name, values in parse_qs(body).items()}
    database = world.herald.runner.app[DEPS].database
    received = datetime.now(UTC) - timedelta(minutes=20)  # Herald died 20 minutes ago
    key = "slack:trigger:old.trigger"
    assert await record_once(
        database=database, key=key, source="slack", now=received, request=request
    )
    reply = (await world.reply("old", wait=8)).text
    assert "Herald did not get to `/deploy rollback webapp` (20 min ago: it restarted" in reply
    assert "will not carry it out this late" in reply
    assert world.writes() == []
