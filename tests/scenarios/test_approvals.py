"""Go/no-go in Slack: a release that needs approval gets one request in the approvals
channel, with a live readiness checklist; approvers press Approve or Reject (with a reason)
through the real Bolt app; the decision is recorded once, replied into the release's feed
thread, the request is edited in place, and CI's gate follows it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yaml
from sqlmodel import col, select

from bot.catalog import Catalog
from bot.examples import example_manifest
from bot.slack.ids import ActionId, BlockId
from bot.store.database import Database, create_engine
from bot.store.tables import AuditRow
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, OPS, Herald, SettingsFactory, start_herald
from tests.herald_process import run_herald
from tests.slack.conversation import Conversation
from tests.slack.reply import Button, buttons_in
from tests.waiting import eventually, stays

CAB = "CCAB"  # webapp's approvals channel
CATALOG = Catalog.model_validate(
    yaml.safe_load(
        f"""
services:
  webapp:
    owners: [U0OWNER01]
    approvals:
      approvers: [S0LEADS, S0SRE]
      normal: 2          # two approvers from different groups (the CAB case)
      channel: {CAB}
    environments:
      prod: {{argocd_app: webapp-prod}}
  billing:
    approvals:
      approvers: [U0ALICE]
    environments:
      prod: {{argocd_app: billing-prod}}
"""
    )
)
GROUPS = {"S0LEADS": ["U0LEAD", "U0LEAD2", "U0AUTHOR"], "S0SRE": ["U0SRE"]}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=(FEED, OPS, CAB), usergroups=GROUPS) as fake:
        yield fake


@pytest.fixture
async def herald(make_settings: SettingsFactory) -> AsyncIterator[Herald]:
    runner = await start_herald(make_settings(checkup_interval_seconds=0.2), catalog=CATALOG)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


@pytest.fixture
def people(herald: Herald, slack: FakeSlack) -> Conversation:
    return Conversation(url=herald.url, session=herald.session, slack=slack)


def manifest(rid: str, **fields: Any) -> dict[str, Any]:
    return {
        **example_manifest(),
        "id": rid,
        "risk": "normal",
        "author": "U0AUTHOR",
        "flags": [{"key": "new_checkout", "owner": "team-web", "default": "off"}],
        "rollback": {"to_version": "1.41.3", "strategy": "Argo CD history"},
        "risk_notes": "Touches the payment form",
        **fields,
    }


async def plan(herald: Herald, body: dict[str, Any]) -> None:
    status, answer = await herald.post_manifest(body)
    assert status == 201, answer


async def request_in(slack: FakeSlack, channel: str, rid: str) -> Any:
    """The approval request message for `rid`, once it is posted."""

    def found() -> Any:
        return next(
            (
                m
                for m in slack.posted(channel)
                if (m.metadata or {}).get("event_type") == "herald_approval"
                and m.metadata["event_payload"]["id"] == rid  # type: ignore[index]
            ),
            None,
        )

    await eventually(lambda: found() is not None, timeout=5)
    return found()


def buttons(message: Any) -> dict[str, Button]:
    return buttons_in(message.blocks)


def reason(said: str) -> dict[str, Any]:
    """What Slack sends of the request's reason box with a press."""
    box = {ActionId.REASON: {"type": "plain_text_input", "value": said}}
    return {"values": {BlockId.APPROVAL_REASON: box}}


async def gate(herald: Herald, rid: str) -> dict[str, Any]:
    status, answer = await herald.call("GET", f"/api/v1/releases/{rid}/gate")
    assert status == 200, answer
    return answer


def codes(answer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in answer["reasons"]]


def feed_replies(slack: FakeSlack, rid: str) -> list[str]:
    root = next(m for m in slack.posted(FEED) if rid in m.text)
    return [m.text for m in slack.replies(FEED, root.ts)]


def replied(slack: FakeSlack, rid: str, words: str) -> int:
    """How many replies in the release's feed thread say `words`."""
    return sum(words in reply for reply in feed_replies(slack, rid))


async def test_a_normal_change_waits_for_two_approvers_from_different_groups(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    needs_billing = [{"service": "billing", "version": ">=2.3"}]
    await plan(herald, manifest("rel-web-1", requires=needs_billing))
    request = await request_in(slack, CAB, "rel-web-1")
    said = "\n".join(block["text"]["text"] for block in request.blocks if "text" in block)
    assert "Approval needed" in said and "needs 2 approvals from different approver groups" in said
    assert "*Risk notes*: Touches the payment form" in said
    assert "*Rollback plan*: to v1.41.3 (Argo CD history)" in said
    assert ":white_check_mark: Flags off by default: new_checkout." in said
    assert ":x: Rollback not rehearsed in another env." in said
    assert ":grey_question: Error-budget burn unknown" in said  # no Prometheus set
    assert ":white_check_mark: No open incident on webapp." in said
    assert ":x: webapp 1.42.0 requires billing &gt;=2.3 in prod; nothing is deployed there" in said
    assert sorted(buttons(request)) == [ActionId.APPROVE, ActionId.REJECT]
    assert (await gate(herald, "rel-web-1"))["decision"] == "pending"

    approve = buttons(request)[ActionId.APPROVE]
    first = await people.click(approve, user="U0LEAD")
    assert first.text.startswith("Counted. 1 of 2 approvals: <@U0LEAD>"), first.text
    again = await people.click(approve, user="U0LEAD")
    assert "counted once" in again.text
    same_group = await people.click(approve, user="U0LEAD2")
    assert "2 of 2 approvals" in same_group.text  # two leads are one group: not yet
    waiting = await gate(herald, "rel-web-1")
    assert waiting["decision"] == "pending"
    assert codes(waiting) == ["approval_waiting", "requires_unmet"]

    last = await people.click(approve, user="U0SRE")
    assert last.text.startswith("Approved: the release may ship."), last.text
    await eventually(lambda: bool(request.edits) and "Approved" in request.edits[-1].text)
    assert buttons_in(request.edits[-1].blocks) == {}  # decided: no buttons left
    await eventually(lambda: replied(slack, "rel-web-1", "was approved by") > 0)
    approved = await gate(herald, "rel-web-1")
    assert (approved["decision"], codes(approved)) == ("pending", ["approved", "requires_unmet"])
    billing = {**manifest("rel-bill-9", service="billing", version="2.3.0"), "risk": "standard"}
    await plan(herald, billing)
    for event in ("release.started", "release.deployed"):
        assert (await herald.post_event("rel-bill-9", event=event))[0] == 201
    answer = await gate(herald, "rel-web-1")
    assert answer["decision"] == "go" and "approved" in codes(answer)
    late = await people.click(approve, user="U0SRE")
    assert "counted once" in late.text
    await stays(
        lambda: replied(slack, "rel-web-1", "was approved by") == 1,
        seconds=0.5,
    )
    assert len(slack.posted(CAB)) == 1  # one request, edited in place


async def test_a_double_click_counts_one_vote(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    await plan(herald, manifest("rel-bill-2", service="billing"))
    approve = buttons(await request_in(slack, OPS, "rel-bill-2"))[ActionId.APPROVE]
    keys = await asyncio.gather(*(people.press(approve, user="U0ALICE") for _ in range(2)))
    said = sorted([(await people.reply(key)).text for key in keys])
    assert said[0].startswith("Approved: the release may ship."), said
    assert "counted once" in said[1]
    await eventually(lambda: replied(slack, "rel-bill-2", "was approved by") > 0)
    await stays(
        lambda: replied(slack, "rel-bill-2", "was approved by") == 1,
        seconds=0.5,
    )


async def test_nobody_approves_their_own_release_and_outsiders_cannot_either(
    herald: Herald, slack: FakeSlack, people: Conversation, make_settings: SettingsFactory
) -> None:
    await plan(herald, manifest("rel-web-2"))
    approve = buttons(await request_in(slack, CAB, "rel-web-2"))[ActionId.APPROVE]
    own = await people.click(approve, user="U0AUTHOR")  # a lead, but they asked for it
    assert "someone else must approve it" in own.text
    outsider = await people.click(approve, user="U0STRANGER")
    assert "Only the approvers of webapp decide" in outsider.text
    assert (await gate(herald, "rel-web-2"))["decision"] == "pending"
    refused = await audited(make_settings, "rel-web-2")
    assert refused == [("U0AUTHOR", "approve", "denied"), ("U0STRANGER", "approve", "denied")]


async def audited(make_settings: SettingsFactory, rid: str) -> list[tuple[str, str, str]]:
    database = Database(create_engine(make_settings().database_url))
    try:
        async with database.read() as session:
            rows = await session.execute(
                select(AuditRow).where(col(AuditRow.release_id) == rid).order_by(col(AuditRow.id))
            )
            return [(row.actor, row.action, row.decision) for row in rows.scalars()]
    finally:
        await database.close()


async def test_a_rejection_needs_a_reason_and_stops_the_gate(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    await plan(herald, manifest("rel-web-3"))
    reject = buttons(await request_in(slack, CAB, "rel-web-3"))[ActionId.REJECT]
    bare = await people.click(reject, user="U0SRE")
    assert "Write why in the Reason box" in bare.text
    assert (await gate(herald, "rel-web-3"))["decision"] == "pending"
    done = await people.click(reject, user="U0SRE", state=reason("Load test not run"))
    assert done.text.startswith("Rejected. Rejected by <@U0SRE>: Load test not run"), done.text
    answer = await gate(herald, "rel-web-3")
    assert answer["decision"] == "rejected"
    assert answer["reasons"][0]["message"].endswith(": Load test not run")
    await eventually(lambda: replied(slack, "rel-web-3", "was rejected by") > 0)
    env = {"HERALD_URL": herald.url, "HERALD_INGEST_TOKEN": INGEST_TOKEN}
    ci = await run_herald("emit", "gate", "rel-web-3", env=env)
    assert ci.code == 1 and "Load test not run" in ci.err


async def test_an_emergency_needs_one_approver_and_is_flagged_for_review(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    await plan(herald, manifest("rel-bill-1", service="billing", risk="emergency"))
    request = await request_in(slack, OPS, "rel-bill-1")  # no channel of its own: ops
    approved = await people.click(buttons(request)[ActionId.APPROVE], user="U0ALICE")
    assert approved.text.startswith("Approved: the release may ship."), approved.text
    answer = await gate(herald, "rel-bill-1")
    assert answer["decision"] == "go"
    assert {"approved", "post_release_review"} <= set(codes(answer))
    await eventually(lambda: replied(slack, "rel-bill-1", "post-release review") > 0)


async def test_a_standard_change_is_pre_approved_and_asks_nobody(
    herald: Herald, slack: FakeSlack
) -> None:
    await plan(herald, manifest("rel-web-4", risk="standard"))
    answer = await gate(herald, "rel-web-4")
    assert answer["decision"] == "go" and "pre_approved" in codes(answer)
    await stays(lambda: slack.posted(CAB) == [], seconds=0.6)


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_count_each_vote_and_the_decision_once(
    make_settings: SettingsFactory, postgres_url: str, slack: FakeSlack
) -> None:
    settings = make_settings(database_url=postgres_url, checkup_interval_seconds=0.2)
    first = await start_herald(settings, catalog=CATALOG)
    second = await start_herald(settings, catalog=CATALOG)  # a replica on the same database
    async with aiohttp.ClientSession() as session:
        one, two = Herald(first, session), Herald(second, session)
        await plan(one, manifest("rel-web-pg"))
        approve = buttons(await request_in(slack, CAB, "rel-web-pg"))[ActionId.APPROVE]
        at_one = Conversation(url=one.url, session=session, slack=slack)
        at_two = Conversation(url=two.url, session=session, slack=slack)
        keys = await asyncio.gather(  # a double-click landing on both, and the other group
            at_one.press(approve, user="U0LEAD"),
            at_two.press(approve, user="U0LEAD"),
            at_one.press(approve, user="U0SRE"),
            at_two.press(approve, user="U0SRE"),
        )
        said = [(await at_one.reply(key)).text for key in keys]
        assert sum("counted once" in text for text in said) == 2, said
        assert sum(text.startswith("Approved: the release may ship.") for text in said) == 1
        assert (await gate(two, "rel-web-pg"))["decision"] == "go"
        await eventually(lambda: replied(slack, "rel-web-pg", "was approved by") > 0)
        await stays(
            lambda: (
                replied(slack, "rel-web-pg", "was approved by") == 1 and len(slack.posted(CAB)) == 1
            ),
            seconds=1.0,
        )
    await first.cleanup()
    await second.cleanup()


async def test_an_approver_herald_cannot_check_counts_for_nothing(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    await plan(herald, manifest("rel-web-5"))
    approve = buttons(await request_in(slack, CAB, "rel-web-5"))[ActionId.APPROVE]
    slack.fail_next("usergroups.users.list", status=500, times=10)
    unsure = await people.click(approve, user="U0SRE")
    assert "Herald could not check" in unsure.text and "nothing was counted" in unsure.text
    answer = await gate(herald, "rel-web-5")
    assert answer["reasons"][0]["message"].endswith("has none yet.")  # fails closed


async def test_the_home_tab_lists_the_approvals_waiting_for_each_approver(
    herald: Herald, slack: FakeSlack, people: Conversation
) -> None:
    await plan(herald, manifest("rel-web-6"))
    approve = buttons(await request_in(slack, CAB, "rel-web-6"))[ActionId.APPROVE]
    waiting = await home_of(people, slack, "U0SRE")
    assert "rel-web-6) — needs 2 approvals from different approver groups" in waiting
    assert "https://slack.com/archives/CCAB/p" in waiting  # the request, linked
    assert "needs 2 approvals" not in await home_of(people, slack, "U0AUTHOR")  # their own
    await people.click(approve, user="U0SRE")
    assert "Nothing waits for you." in await home_of(people, slack, "U0SRE")  # voted already


async def home_of(people: Conversation, slack: FakeSlack, user: str) -> str:
    published = len(slack.homes.get(user, []))
    opened = {"type": "app_home_opened", "user": user, "channel": "D0HERALD", "tab": "home"}
    assert await people.event(opened) == 200
    await eventually(lambda: len(slack.homes.get(user, [])) > published)
    blocks = slack.homes[user][-1]["blocks"]
    return "\n".join(b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict))
