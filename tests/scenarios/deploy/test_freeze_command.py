"""An admin freezes a service from Slack, and unfreezes it: `/deploy freeze` and
`/deploy unfreeze`, through the real Bolt app, with what the on-call then sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from tests.conftest import INGEST_TOKEN
from tests.scenarios.deploy.world import DeployWorld


async def gate(world: DeployWorld, release_id: str) -> str:
    status, answer = await world.herald.call(
        "GET", f"/api/v1/releases/{release_id}/gate", token=INGEST_TOKEN
    )
    assert status == 200
    return str(answer["decision"])


async def test_an_admin_freezes_webapp_in_prod_and_promote_and_the_gate_wait(
    world: DeployWorld,
) -> None:
    froze = await world.deploy(
        "freeze webapp prod 2h payments incident INC-77, hands off", user="U0ADMIN"
    )
    assert froze.text.startswith(":snowflake: Froze webapp in prod until ")
    assert "payments incident INC-77, hands off. Promote waits" in froze.text
    assert "`/deploy unfreeze webapp prod` ends it." in froze.text
    status = (await world.deploy("status webapp")).text
    assert ":snowflake: *Frozen* until" in status and "payments incident INC-77" in status
    assert "is frozen until" in (await world.deploy("promote webapp")).text
    assert world.writes() == []
    assert await gate(world, "rel-2") == "frozen"
    assert "Frozen" not in (await world.deploy("status webapp staging")).text


async def test_unfreeze_ends_it_early_and_promote_goes_through(world: DeployWorld) -> None:
    await world.deploy("freeze webapp prod 3d quarter end", user="U0ADMIN")
    lifted = await world.deploy("unfreeze webapp prod", user="U0ADMIN")
    assert lifted.text == ":sunny: Unfroze webapp in prod."
    assert await gate(world, "rel-2") == "go"
    assert "Promoted:" in (await world.deploy("promote webapp")).text


async def test_freeze_all_holds_every_service_in_every_env(world: DeployWorld) -> None:
    too_long = await world.deploy("freeze all until 2099-01-01T00:00Z offsite", user="U0ADMIN")
    assert too_long.text == ":warning: A freeze ends in the future, within 90 days."
    assert "Frozen" not in (await world.deploy("status webapp")).text
    froze = await world.deploy("freeze all 1d company offsite", user="U0ADMIN")
    assert froze.text.startswith(":snowflake: Froze all services until ")
    assert "Frozen" in (await world.deploy("status webapp staging")).text
    assert "Frozen" in (await world.deploy("status billing")).text


async def test_an_owner_who_is_no_admin_may_not_freeze(world: DeployWorld) -> None:
    refused = await world.deploy("freeze webapp prod 2h because I say so", user="U0OWNER")
    assert refused.text == ":no_entry: Only admins of webapp may freeze and unfreeze."
    assert "Frozen" not in (await world.deploy("status webapp")).text


async def test_unfreezing_what_the_catalogue_froze_or_nothing_says_so(world: DeployWorld) -> None:
    nothing = await world.deploy("unfreeze webapp", user="U0ADMIN")
    assert "No freeze declared in Slack holds exactly webapp." in nothing.text
    assert "change them in HERALD_CONFIG" in nothing.text


async def test_a_freeze_without_a_length_or_a_reason_is_refused_in_the_ack(
    world: DeployWorld,
) -> None:
    no_length = await world.send("freeze webapp prod soon-ish")
    assert "How long? e.g. `2h`" in json.loads(no_length.body)["text"]
    no_reason = await world.send("freeze webapp prod 2h")
    assert "Say why, in 3 to 300 characters" in json.loads(no_reason.body)["text"]
    bad_time = await world.send("freeze webapp until tomorrow lunch")
    assert "`tomorrow` is not a time with its offset" in json.loads(bad_time.body)["text"]


async def test_a_freeze_until_a_time_with_an_offset_says_its_end_in_utc(world: DeployWorld) -> None:
    berlin = timezone(timedelta(hours=1))
    until = (datetime.now(berlin) + timedelta(days=1)).replace(second=0, microsecond=0)
    froze = await world.deploy(
        f"freeze webapp prod until {until.isoformat()} release train", user="U0ADMIN"
    )
    in_utc = until.astimezone(UTC)
    assert f"until {in_utc:%Y-%m-%d %H:%M} UTC (freeze-1)" in froze.text
