"""Delivery through the outbox when Slack misbehaves: nothing lost, nothing doubled, in order."""

from __future__ import annotations

from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, Herald
from tests.waiting import eventually, stays

RID = "rel-2025-10-02.3"


def headers(slack: FakeSlack, channel: str = FEED) -> list[str]:
    return [m.text.splitlines()[0].split(" | ")[0] for m in slack.posted(channel)]


async def test_rate_limit_waits_retry_after_then_posts_once(
    herald: Herald, slack: FakeSlack
) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    await herald.post_manifest(example_manifest())
    await eventually(lambda: len(slack.posted(FEED)) == 1, timeout=5)
    posts = [c for c in slack.calls_to("chat.postMessage") if not c.body.get("thread_ts")]
    assert [c.ok for c in posts] == [False, True]  # its details reply may follow at once
    assert posts[1].at - posts[0].at >= 0.95
    assert not slack.calls_to("conversations.history")  # a 429 is not ambiguous


async def test_server_error_is_checked_against_history_before_reposting(
    herald: Herald, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=500)
    await herald.post_manifest(example_manifest())
    await eventually(lambda: len(slack.posted(FEED)) == 1, timeout=5)
    assert len(slack.calls_to("conversations.history")) == 1
    top_level = [c for c in slack.calls_to("chat.postMessage") if not c.body.get("thread_ts")]
    assert len(top_level) == 2  # the 500, then the post after history showed it was missing


async def test_post_that_lost_its_answer_is_found_by_metadata_not_reposted(
    herald: Herald, slack: FakeSlack
) -> None:
    slack.drop_after_post_next("chat.postMessage")
    await herald.post_manifest(example_manifest())
    await herald.post_event(RID, event="release.started")
    await eventually(lambda: len(slack.posted(FEED)) == 2, timeout=5)
    await eventually(lambda: len(slack.calls_to("conversations.history")) >= 1)
    await eventually(lambda: len(slack.calls_to("chat.postMessage")) == 3)
    await stays(lambda: len(slack.calls_to("chat.postMessage")) == 3, seconds=0.3)
    assert headers(slack) == [
        ":calendar: release.planned",
        ":hourglass_flowing_sand: release.started",
    ]
    assert len(slack.messages(FEED)) == 3  # the two events and the planned release's details
    assert len(slack.calls_to("chat.postMessage")) == 3
    status, body = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert status == 200
    assert [m["ts"] for m in body["messages"] if m["role"] == "feed_root"] == [
        slack.posted(FEED)[0].ts
    ]


async def test_outage_delays_but_keeps_every_message_in_order(
    herald: Herald, slack: FakeSlack
) -> None:
    slack.set_outage(True)
    await herald.post_manifest(example_manifest())
    for step in ("started", "deployed", "failed", "rolled_back", "recovered"):
        assert (await herald.post_event(RID, event=f"release.{step}"))[0] == 201
    await stays(lambda: slack.posted(FEED) == [], seconds=0.5)
    slack.set_outage(False)
    await eventually(lambda: len(slack.posted(FEED)) == 6, timeout=10)
    assert headers(slack) == [
        ":calendar: release.planned",
        ":hourglass_flowing_sand: release.started",
        ":rocket: release.deployed",
        ":warning: release.failed",
        ":rewind: release.rolled_back",
        ":white_check_mark: release.recovered",
    ]
    root = slack.posted(FEED)[0]
    replies = [r.text for r in slack.replies(FEED, root.ts)]  # details and notes still land there
    assert replies[0].startswith(":page_facing_up: Details") and "Release notes" in replies[1]
