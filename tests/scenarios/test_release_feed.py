"""The example release, all six events, through `herald serve`'s HTTP app to the Slack stand-in."""

from __future__ import annotations

from typing import Any

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, OPS, Herald
from tests.waiting import eventually

RID = "rel-2025-10-02.3"
HEADER = "release.{} | webapp | prod | v1.42.0 (rel-2025-10-02.3)"


async def play_release(herald: Herald) -> None:
    manifest = example_manifest()
    manifest["links"] = {"run": "https://ci.example.com/runs/1"}
    assert (await herald.post_manifest(manifest))[0] == 201
    steps: list[dict[str, Any]] = [
        {"event": "release.started", "at": "2025-10-02T20:20:00Z"},
        {"event": "release.deployed", "at": "2025-10-02T20:30:00Z", "lead_time_seconds": 28800},
        {
            "event": "release.failed",
            "at": "2025-10-02T20:45:00Z",
            "symptom": "spike in 5xx on /checkout",
            "pagerduty": "P2-8831",
            "blast_radius": "~12% users",
            "flag_state": "billing_pricing_v2=off",
            "next": "rolling back via Argo Rollout",
            "eta": "5m",
        },
        {"event": "release.rolled_back", "at": "2025-10-02T20:50:00Z"},
        {"event": "release.recovered", "at": "2025-10-02T21:10:00Z"},
    ]
    for step in steps:
        status, body = await herald.post_event(RID, **step)
        assert status == 201, body


async def test_each_event_is_one_feed_message_with_the_template(
    herald: Herald, slack: FakeSlack
) -> None:
    await play_release(herald)
    await eventually(lambda: len(slack.posted(FEED)) == 6)

    feed = slack.posted(FEED)
    first_lines = [m.text.splitlines()[0] for m in feed]
    assert first_lines == [
        ":calendar: " + HEADER.format("planned"),
        ":hourglass_flowing_sand: " + HEADER.format("started"),
        ":rocket: " + HEADER.format("deployed"),
        ":warning: " + HEADER.format("failed"),
        ":rewind: " + HEADER.format("rolled_back"),
        ":white_check_mark: " + HEADER.format("recovered"),
    ]
    deployed = feed[2].text.splitlines()
    assert deployed[1:] == [
        "- Lead time: 8h | Owner: @team-billing | Rollback: v1.41.3",
        "- Changes: feat(billing): usage-based pricing",
        "- Links: run ▶️ <https://ci.example.com/runs/1> | issues 🔗 PROD-2142",
    ]
    assert feed[5].text.splitlines()[1] == "- Time to recover: 25m | Owner: @team-billing"
    assert feed[2].blocks[0]["text"]["text"].startswith(":rocket: release.deployed | webapp")


async def test_messages_carry_the_event_payload_as_metadata(
    herald: Herald, slack: FakeSlack
) -> None:
    await play_release(herald)
    await eventually(lambda: len(slack.posted(FEED)) == 6)
    deployed = slack.posted(FEED)[2]
    assert deployed.metadata is not None
    assert deployed.metadata["event_type"] == "release_deployed"
    payload = deployed.metadata["event_payload"]
    for key in ("event", "id", "service", "env", "version", "owner", "at", "result", "links"):
        assert key in payload
    assert payload["event"] == "release.deployed"
    assert payload["lead_time_seconds"] == 28800
    assert payload["result"] == "success"
    recovered = slack.posted(FEED)[5].metadata
    assert recovered is not None
    assert recovered["event_payload"]["mttr_seconds"] == 25 * 60


async def test_details_go_in_the_thread_of_the_first_feed_message(
    herald: Herald, slack: FakeSlack
) -> None:
    await play_release(herald)
    await eventually(lambda: len(slack.messages(FEED)) == 8)
    root = slack.posted(FEED)[0]
    replies = slack.replies(FEED, root.ts)
    assert len(replies) == 2
    assert "*Flags*: billing_pricing_v2" in replies[0].text
    notes = replies[1]  # internal release notes, posted on release.deployed
    assert notes.text.startswith("*Release notes: webapp v1.42.0 (prod)* · rel-2025-10-02.3")
    assert "usage-based pricing" in notes.text and "PROD-2142" in notes.text
    assert notes.metadata is not None and notes.metadata["event_type"] == "herald_release_notes"
    assert all(m.thread_ts is None for m in slack.posted(FEED))


async def test_failure_opens_one_ops_thread_that_closes_with_time_to_recover(
    herald: Herald, slack: FakeSlack
) -> None:
    await play_release(herald)
    await eventually(lambda: len(slack.messages(OPS)) == 3)
    ops = slack.posted(OPS)
    assert len(ops) == 1
    assert ops[0].text.splitlines()[:4] == [
        ":warning: " + HEADER.format("failed"),
        "- Symptom: spike in 5xx on /checkout | PagerDuty: P2-8831",
        "- Blast radius: ~12% users | Flag state: billing_pricing_v2=off",
        "- Next: rolling back via Argo Rollout | ETA: 5m",
    ]
    replies = slack.replies(OPS, ops[0].ts)
    assert [r.text.splitlines()[0] for r in replies] == [
        ":rewind: " + HEADER.format("rolled_back"),
        ":white_check_mark: " + HEADER.format("recovered"),
    ]
    assert "Time to recover: 25m" in replies[1].text


async def test_release_view_links_every_message(herald: Herald, slack: FakeSlack) -> None:
    await play_release(herald)
    await eventually(lambda: len(slack.messages(OPS)) == 3 and len(slack.messages(FEED)) == 8)

    async def recorded() -> bool:  # the worker records each post just after Slack answers it
        _, body = await herald.call("GET", f"/api/v1/releases/{RID}")
        return bool(body["messages_pending"] == 0)

    await eventually(recorded, timeout=3, interval=0.02)
    status, body = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert status == 200
    assert body["release"]["state"] == "release.recovered"
    assert body["release"]["service"] == "webapp"
    assert [e["event"] for e in body["events"]] == [
        "release.planned",
        "release.started",
        "release.deployed",
        "release.failed",
        "release.rolled_back",
        "release.recovered",
    ]
    roles = sorted(m["role"] for m in body["messages"])
    assert roles.count("feed_root") == 1 and roles.count("ops_root") == 1
    assert len(body["messages"]) == 11
    assert all(m["link"].startswith("https://slack.com/archives/C") for m in body["messages"])
