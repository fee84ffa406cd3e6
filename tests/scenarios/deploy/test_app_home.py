"""Herald's own place in Slack: the Home tab someone sees when they open Herald (their
services, releases in flight, incidents and who commands them, freezes, DORA), and
`@Herald status webapp` answered in the mention's thread."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.examples import example_manifest
from bot.slack.ids import ActionId
from bot.workers import DMS, HOMES
from tests.conftest import OPS
from tests.scenarios.deploy.world import DeployWorld, settle
from tests.slack.reply import button_in, buttons_in
from tests.waiting import eventually

CHANNEL = "CFEED"


async def open_home(world: DeployWorld, user: str) -> str:
    """`user` opens Herald's Home tab; the text of every block Herald published for them."""
    published = len(world.slack.homes.get(user, []))
    event = {"type": "app_home_opened", "user": user, "channel": "D0HERALD", "tab": "home"}
    assert await world.event(event) == 200
    await eventually(lambda: len(world.slack.homes.get(user, [])) > published)
    view = world.slack.homes[user][-1]
    return "\n".join(text_of(block) for block in view["blocks"])


def text_of(block: dict[str, Any]) -> str:
    text = block.get("text")
    return str(text["text"]) if isinstance(text, dict) else ""


async def test_an_owner_sees_their_services_releases_and_incidents_with_links(
    world: DeployWorld,
) -> None:
    assert (await world.herald.post_event("rel-2", event="release.failed", symptom="5xx"))[0] == 201
    await eventually(lambda: len(world.slack.posted(OPS)) == 1)
    incident = world.slack.posted(OPS)[0]
    await world.click(button_in(incident.blocks, ActionId.TAKE_COMMAND), user="U0OWNER")
    await settle(world.herald)
    home = await open_home(world, "U0OWNER")
    assert "*Your services*\n`billing`, `webapp`" in home
    assert "*Open incidents*" in home
    assert "webapp prod v1.42.0" in home and "(rel-2) — commanded by <@U0OWNER>" in home
    assert "https://slack.com/archives/COPS/p" in home  # the incident's thread, linked
    assert "*DORA, last 30 days*\n• `billing`: 0 deploys" in home
    assert "• `webapp`: 2 deploys" in home


async def test_someone_without_services_is_told_so_and_sees_no_other_teams_figures(
    world: DeployWorld,
) -> None:
    home = await open_home(world, "U0STRANGER")
    assert "None: the catalogue names you on no service." in home
    assert "No services of yours to measure." in home
    member = await open_home(world, "U0MEMBER")  # in S0BILLING, which owns webapp
    assert "*Your services*\n`webapp`" in member


async def test_a_mention_asking_for_status_is_answered_in_its_thread(world: DeployWorld) -> None:
    mention = {
        "type": "app_mention",
        "user": "U0OWNER",
        "text": "<@UHERALD> status webapp prod",
        "channel": CHANNEL,
        "ts": "1700000001.000100",
    }
    assert await world.event(mention) == 200

    def answers() -> list[Any]:
        return [m for m in world.slack.messages(CHANNEL) if m.thread_ts == "1700000001.000100"]

    await eventually(lambda: len(answers()) == 1)
    assert "Rollout: Paused · step 2 of 5" in answers()[0].text
    asked = await mention_answer(world, {**mention, "text": "<@UHERALD> rollback webapp"}, "2")
    assert asked == "Mention me with `status &lt;service&gt; [env]`."  # only status by mention
    odd = await mention_answer(world, {**mention, "text": "<@UHERALD> status <!channel>"}, "3")
    assert odd == "`&lt;!channel&gt;` is not a service, environment or version."


async def mention_answer(world: DeployWorld, mention: dict[str, Any], n: str) -> str:
    ts = f"170000000{n}.000100"
    assert await world.event({**mention, "ts": ts}) == 200
    await eventually(lambda: any(m.thread_ts == ts for m in world.slack.messages(CHANNEL)))
    [said] = [m for m in world.slack.messages(CHANNEL) if m.thread_ts == ts]
    return said.text


async def test_an_event_storm_refreshes_an_open_home_once_a_run_not_once_an_event(
    world: DeployWorld,
) -> None:
    await open_home(world, "U0OWNER")
    homes = world.herald.runner.app[HOMES]
    assert await homes.refresh() == 0  # nothing changed: nothing published
    for n in range(30):  # a storm of new releases
        manifest = {**example_manifest(), "id": f"rel-storm-{n}", "service": "billing"}
        assert (await world.herald.post_manifest(manifest))[0] == 201
    assert await homes.refresh() == 1
    assert await homes.refresh() == 0
    assert len(world.slack.homes["U0OWNER"]) == 2  # opened, then refreshed once
    shown = "\n".join(text_of(block) for block in world.slack.homes["U0OWNER"][-1]["blocks"])
    assert "billing prod v1.42.0" in shown


async def test_an_owner_who_opts_in_is_dmed_once_when_a_release_of_theirs_fails(
    world: DeployWorld,
) -> None:
    world.slack.users.update({"U0OWNER", "U0MEMBER"})
    await open_home(world, "U0OWNER")
    switch = buttons_in(world.slack.homes["U0OWNER"][-1]["blocks"])[ActionId.DMS_ON]
    await world.press(switch, user="U0OWNER")  # the Home answers: it is published again
    await eventually(
        lambda: ActionId.DMS_OFF in buttons_in(world.slack.homes["U0OWNER"][-1]["blocks"])
    )
    assert (await world.herald.post_event("rel-2", event="release.failed", symptom="5xx"))[0] == 201
    dms = world.herald.runner.app[DMS]
    assert sum(await asyncio.gather(dms.run(), dms.run())) == 1  # two replicas: one DM
    assert await dms.run() == 0
    inbox = world.slack.dm_channel("U0OWNER")
    await eventually(lambda: len(world.slack.messages(inbox)) == 1)
    assert world.slack.messages(inbox)[0].text == "webapp prod v1.42.0 (rel-2) failed: 5xx"
    assert world.slack.messages(world.slack.dm_channel("U0MEMBER")) == []  # did not opt in
