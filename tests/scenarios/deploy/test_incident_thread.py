"""The incident commander runs a failed release from its ops thread: the incident message at
the top is kept current in place; Hand over, Post update (a modal) and Mark recovered go
through the service's access rules, are audited, and every attempt is said in the thread."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from bot.deps import DEPS
from bot.examples import example_manifest
from bot.slack.ids import ActionId, CallbackId, incident_actions_block
from bot.store.coordination import CoordinationCounts, coordination_counts
from bot.store.tables import CheckupRow
from bot.workers import RETROS
from standins.slack_messages import SlackMessage
from tests.conftest import OPS
from tests.scenarios.deploy.world import DeployWorld, fail_release, ops_thread, settle
from tests.slack.reply import button_in, buttons_in
from tests.waiting import eventually

INCIDENT_ACTIONS = incident_actions_block("rel-2")


async def edited(incident: SlackMessage, words: str) -> str:
    """The incident message's text once an edit of it says `words`."""
    await eventually(lambda: bool(incident.edits) and words in incident.edits[-1].text)
    return incident.edits[-1].text


async def hand_over(world: DeployWorld, *, by: str, to: str) -> str:
    reply = await world.pick_user(
        action_id=ActionId.HAND_OVER, block_id=INCIDENT_ACTIONS, picked=to, user=by
    )
    return reply.text


async def test_taking_command_names_the_commander_in_the_incident_message_itself(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    assert "Incident commander: unassigned" in incident.text
    await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    said = await edited(incident, "Incident commander: <@U0OWNER>")
    assert "- State: failed" in said
    assert ActionId.TAKE_COMMAND not in buttons_in(incident.edits[-1].blocks)
    assert ActionId.MARK_RECOVERED in buttons_in(incident.edits[-1].blocks)


async def test_the_commander_hands_over_and_a_stranger_cannot(world: DeployWorld) -> None:
    incident = await fail_release(world)
    await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    refused = await hand_over(world, by="U0STRANGER", to="U0STRANGER")
    assert "Only owners of webapp" in refused
    handed = await hand_over(world, by="U0OWNER", to="U0MEMBER")
    assert handed == "<@U0MEMBER> is the incident commander now."
    await edited(incident, "Incident commander: <@U0MEMBER>")
    await settle(world.herald)
    said = ops_thread(world, incident)
    assert any(t.startswith(":no_entry: <@U0STRANGER> tried to hand over: ") for t in said)
    assert ":large_blue_circle: <@U0OWNER> handed command to <@U0MEMBER>." in said
    again = await hand_over(world, by="U0MEMBER", to="U0OWNER")  # the commander may, too
    assert again == "<@U0OWNER> is the incident commander now."


async def test_an_update_from_the_modal_is_shown_in_place_and_replied_escaped(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    key = await world.press(button_in(incident.blocks, ActionId.POST_UPDATE), user="U0OWNER")
    assert key
    await eventually(lambda: len(world.slack.views) == 1)
    modal = world.slack.views[0]
    assert (modal["callback_id"], modal["private_metadata"]) == (
        CallbackId.INCIDENT_UPDATE,
        "rel-2",
    )
    status, _ = await world.submit(
        callback_id=CallbackId.INCIDENT_UPDATE,
        metadata="rel-2",
        values=typed(
            symptom="<!channel> 5xx on /pay",
            blast_radius="EU <@U0CEO>",
            flag_state="<!subteam^S0ALL> new_checkout off",
            next_action="<https://evil.example|roll back> & wait",
            eta="14:30 <!here>",
        ),
        user="U0OWNER",
    )
    assert status == 200
    said = await edited(incident, "EU")
    assert "Symptom: &lt;!channel&gt; 5xx on /pay" in said
    assert "Blast radius: EU &lt;@U0CEO&gt;" in said and "ETA: 14:30" in said
    assert "1 update" in said
    for raw in ("<!channel>", "<@U0CEO>", "<!subteam^S0ALL>", "<https://evil", "<!here>"):
        assert raw not in said  # every free-text field reaches Slack escaped
    await eventually(
        lambda: any("Update 1 by <@U0OWNER>" in t for t in ops_thread(world, incident))
    )
    reply = next(t for t in ops_thread(world, incident) if "Update 1 by" in t)
    assert "&lt;!channel&gt;" in reply
    for raw in ("<!channel>", "<@U0CEO>", "<!subteam^S0ALL>", "<https://evil", "<!here>"):
        assert raw not in reply


def typed(**fields: str) -> dict[str, Any]:
    """The modal's state as Slack sends it: block id → action id → the typed value."""
    return {
        name: {name: {"type": "plain_text_input", "value": value}} for name, value in fields.items()
    }


async def test_mark_recovered_asks_again_while_red_then_records_the_recovery(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    recovered = button_in(incident.blocks, ActionId.MARK_RECOVERED)
    assert recovered.confirm is not None  # Slack asks before it sends the click
    stranger = await world.click(recovered, user="U0STRANGER")
    assert "Only owners of webapp" in stranger.text
    await judge_red(world)
    red = await world.click(recovered, user="U0OWNER")
    assert "Herald's last checkup (+15m) is red. Mark it recovered anyway?" in red.text
    _, release = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert release["release"]["state"] == "release.failed"
    anyway = await world.click(
        button_in(red.blocks, ActionId.MARK_RECOVERED_ANYWAY), user="U0OWNER"
    )
    assert anyway.text.startswith("Recovered: the page is resolved")
    _, release = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert release["release"]["state"] == "release.recovered"
    said = await edited(incident, "State: recovered")
    assert buttons_in(incident.edits[-1].blocks) == {}
    assert "since it failed" in said
    late = await world.click(recovered, user="U0OWNER")
    assert "rel-2 has recovered already." in late.text


async def judge_red(world: DeployWorld) -> None:
    """The release's +15m checkup came back red."""
    database = world.herald.runner.app[DEPS].database
    async with database.transaction() as session:
        await session.execute(
            update(CheckupRow)
            .where(col(CheckupRow.release_id) == "rel-2", col(CheckupRow.offset_seconds) == 900)
            .values(state="done", color="red")
        )


async def test_every_attempt_is_said_in_the_thread_and_kept_in_the_audit_trail(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    refused = await world.deploy("pause webapp", user="U0STRANGER")
    assert "Only owners of webapp" in refused.text
    await world.deploy("status webapp", user="U0STRANGER")  # reading changes nothing: no reply
    await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    await hand_over(world, by="U0OWNER", to="U0MEMBER")
    await settle(world.herald)
    said = ops_thread(world, incident)
    assert any(t.startswith(":no_entry: <@U0STRANGER> tried `/deploy pause`: ") for t in said)
    assert not any("status" in t for t in said)
    _, detail = await world.herald.call("GET", "/api/v1/releases/rel-2")
    trail = [(a["actor"], a["action"], a["decision"]) for a in detail["audit"]]
    assert trail[-4:] == [
        ("U0STRANGER", "pause", "denied"),
        ("U0STRANGER", "status", "allowed"),
        ("U0OWNER", "take_command", "allowed"),
        ("U0OWNER", "hand_over", "allowed"),
    ]


async def test_an_argo_cd_app_without_a_rollout_still_offers_its_rollback(
    world: DeployWorld,
) -> None:
    status = await world.deploy("status webapp staging")
    assert sorted(status.buttons) == [ActionId.ROLLBACK_START]  # no Rollout: no promote, pause
    confirm = await world.click(status.button(ActionId.ROLLBACK_START))
    assert ActionId.ROLLBACK_CONFIRM in confirm.buttons
    assert world.writes() == []


async def test_a_fix_forward_recovers_the_release_when_the_fix_deploys(world: DeployWorld) -> None:
    incident = await fail_release(world)
    await world.press(button_in(incident.blocks, ActionId.FIX_FORWARD), user="U0OWNER")
    await eventually(lambda: len(world.slack.views) == 1)
    assert world.slack.views[0]["callback_id"] == CallbackId.INCIDENT_FIX
    fix: dict[str, Any] = {
        ActionId.FIX: {ActionId.FIX: {"type": "plain_text_input", "value": "1.42.1"}}
    }
    status, _ = await world.submit(
        callback_id=CallbackId.INCIDENT_FIX, metadata="rel-2", values=fix, user="U0OWNER"
    )
    assert status == 200
    await eventually(
        lambda: any("fix it forward with 1.42.1" in t for t in ops_thread(world, incident))
    )
    fixed = {**example_manifest(), "id": "rel-3", "version": "1.42.1"}
    assert (await world.herald.post_manifest(fixed))[0] == 201
    assert (await world.herald.post_event("rel-3", event="release.started"))[0] == 201
    _, still = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert still["release"]["state"] == "release.failed"  # started is not deployed
    assert (await world.herald.post_event("rel-3", event="release.deployed"))[0] == 201
    _, detail = await world.herald.call("GET", "/api/v1/releases/rel-2")
    assert detail["release"]["state"] == "release.recovered"
    recovered = detail["events"][-1]
    assert recovered["details"]["actor"] == "fix forward rel-3"
    assert recovered["details"]["mttr_seconds"] >= 0
    await eventually(lambda: said(world, incident, "its fix forward rel-3 (v1.42.1) deployed"))


def said(world: DeployWorld, incident: SlackMessage, words: str) -> bool:
    return any(words in reply for reply in ops_thread(world, incident))


async def test_a_retro_reminder_comes_once_after_the_recovery_and_takes_the_write_up(
    world: DeployWorld,
) -> None:
    incident = await fail_release(world)
    await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    await world.click(button_in(incident.blocks, ActionId.MARK_RECOVERED), user="U0OWNER")
    job = world.herald.runner.app[RETROS]
    assert await job.run() == 0  # 24 h have not passed
    soon = replace(job, after=timedelta(0))  # as if they had
    assert sum(await asyncio.gather(soon.run(), soon.run())) == 1
    assert await soon.run() == 0
    await eventually(lambda: said(world, incident, "Time for the retro of rel-2. Timeline:"))
    [reminder] = [m for m in world.slack.replies(OPS, incident.ts) if "retro of" in m.text]
    steps = reminder.text.splitlines()[1:]
    assert [step.split(" UTC ")[1] for step in steps] == [
        "failed", "<@U0OWNER> took command", "recovered",
    ]  # fmt: skip
    assert (await retros_owed(world)).retro_sentence() == (
        "Failed releases with no retro yet: rel-2."  # the weekly report says so
    )
    await world.press(button_in(reminder.blocks, ActionId.RETRO_DONE), user="U0OWNER")
    await eventually(lambda: len(world.slack.views) == 1)
    link: dict[str, Any] = {
        ActionId.RETRO_LINK: {ActionId.RETRO_LINK: {"type": "url_text_input", "value": URL}}
    }
    await world.submit(
        callback_id=CallbackId.INCIDENT_RETRO, metadata="rel-2", values=link, user="U0OWNER"
    )
    await eventually(lambda: said(world, incident, "Retro done by <@U0OWNER>"))
    assert (await retros_owed(world)).retros_owed == ()


async def retros_owed(world: DeployWorld) -> CoordinationCounts:
    """This week's coordination counts, as the weekly report reads them."""
    now = datetime.now(UTC)
    database = world.herald.runner.app[DEPS].database
    return await coordination_counts(database, since=now - timedelta(days=7), until=now)


URL = "https://wiki.example.com/retros/rel-2"


async def test_a_double_click_on_mark_recovered_recovers_once(world: DeployWorld) -> None:
    incident = await fail_release(world)
    recovered = button_in(incident.blocks, ActionId.MARK_RECOVERED)
    keys = await asyncio.gather(*(world.press(recovered, user="U0OWNER") for _ in range(2)))
    answers = [(await world.reply(key)).text for key in keys]
    assert sum(a.startswith("Recovered: the page is resolved") for a in answers) == 1
    assert "rel-2 has recovered already." in answers
    await settle(world.herald)
    assert sum("marked it recovered" in t for t in ops_thread(world, incident)) == 1


async def test_an_incident_of_a_service_the_catalogue_lacks_is_its_admins(
    world: DeployWorld,
) -> None:
    search = {**example_manifest(), "id": "rel-s1", "service": "search"}
    assert (await world.herald.post_manifest(search))[0] == 201
    for event in ("release.started", "release.failed"):
        assert (await world.herald.post_event("rel-s1", event=event))[0] == 201
    await eventually(lambda: any("rel-s1" in m.text for m in world.slack.posted(OPS)))
    incident = next(m for m in world.slack.posted(OPS) if "rel-s1" in m.text)
    recovered = button_in(incident.blocks, ActionId.MARK_RECOVERED)
    owner = await world.click(recovered, user="U0OWNER")  # owns webapp, not search
    assert "search is not in the catalogue: its commander or an admin acts." in owner.text
    admin = await world.click(recovered, user="U0ADMIN")
    assert admin.text.startswith("Recovered: the page is resolved")
