"""The ingest API's contract: idempotency, lifecycle rules and every bad-input answer."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from bot.deps import DEPS
from bot.examples import example_manifest
from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, Herald
from tests.fakes import ContendedLedgers
from tests.waiting import eventually, stays

RID = "rel-2025-10-02.3"


async def test_example_manifest_is_accepted_as_written_and_service_is_derived(
    herald: Herald,
) -> None:
    manifest = example_manifest()
    del manifest["service"]
    status, body = await herald.post_manifest(manifest)
    assert status == 201
    assert body["release"]["service"] == "webapp"
    assert body["release"]["state"] == "release.planned"
    assert body["created"] is True


async def test_unknown_manifest_fields_are_kept(herald: Herald) -> None:
    manifest = {**example_manifest(), "build": {"runner": "gha-large"}}
    await herald.post_manifest(manifest)
    status, body = await herald.call("GET", f"/api/v1/releases/{RID}")
    assert status == 200
    assert body["release"]["manifest"]["build"] == {"runner": "gha-large"}


async def test_identical_manifest_twice_is_one_release_and_one_message(
    herald: Herald, slack: FakeSlack
) -> None:
    first = await herald.post_manifest(example_manifest())
    second = await herald.post_manifest(example_manifest())
    assert (first[0], second[0]) == (201, 200)
    assert second[1]["created"] is False
    assert second[1]["release"]["id"] == first[1]["release"]["id"]
    await eventually(lambda: len(slack.posted(FEED)) == 1)
    await stays(lambda: len(slack.posted(FEED)) == 1, seconds=0.3)


async def test_a_different_manifest_under_an_existing_id_is_a_conflict(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    changed = {**example_manifest(), "version": "1.42.1"}
    status, body = await herald.post_manifest(changed)
    assert status == 409
    assert "different manifest" in body["error"]
    assert body["details"] == [{"path": "id", "message": "already used by a different manifest"}]


async def test_a_release_changed_concurrently_on_every_attempt_answers_503_retry_after(
    herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three lost compare-and-sets: 503 + Retry-After, an answer a sender retries (a 409
    would be taken as final)."""
    contended = ContendedLedgers()
    monkeypatch.setattr(herald.runner.app[DEPS], "ledgers", contended)
    async with herald.session.post(
        f"{herald.url}/api/v1/releases",
        json=example_manifest(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    ) as response:
        answer = (response.status, response.headers.get("Retry-After"))
        body = await response.json()
    assert answer == (503, "1")
    assert body["error"] == "the release changed concurrently; send it again"
    assert body["details"] == []
    assert contended.attempts == 3


async def test_repeated_event_is_acknowledged_once(herald: Herald, slack: FakeSlack) -> None:
    await herald.post_manifest(example_manifest())
    first = await herald.post_event(RID, event="release.started")
    again = await herald.post_event(RID, event="release.started")
    keyed = await herald.post_event(RID, event="release.deployed", idempotency_key="ci-run-9")
    keyed_again = await herald.post_event(RID, event="release.deployed", idempotency_key="ci-run-9")
    assert [first[0], again[0], keyed[0], keyed_again[0]] == [201, 200, 201, 200]
    assert again[1]["created"] is False
    await eventually(lambda: len(slack.posted(FEED)) == 3)
    await stays(lambda: len(slack.posted(FEED)) == 3, seconds=0.3)


async def test_concurrent_duplicates_post_one_message(herald: Herald, slack: FakeSlack) -> None:
    await herald.post_manifest(example_manifest())
    results = await asyncio.gather(
        *(herald.post_event(RID, event="release.started") for _ in range(5))
    )
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 201]
    await eventually(lambda: len(slack.posted(FEED)) == 2)
    await stays(lambda: len(slack.posted(FEED)) == 2, seconds=0.3)


async def test_idempotency_key_reused_for_another_event_is_a_conflict(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    await herald.post_event(RID, event="release.started", idempotency_key="k1")
    status, body = await herald.post_event(RID, event="release.deployed", idempotency_key="k1")
    assert status == 409
    assert body["details"][0]["path"] == "idempotency_key"


@pytest.mark.parametrize(
    ("history", "event", "legal"),
    [
        ([], "release.deployed", "release.started"),
        (["release.started"], "release.recovered", "release.deployed, release.failed"),
        (["release.started", "release.deployed"], "release.rolled_back", "release.failed"),
    ],
)
async def test_illegal_move_is_refused_naming_the_legal_next_events(
    herald: Herald, history: list[str], event: str, legal: str
) -> None:
    await herald.post_manifest(example_manifest())
    for step in history:
        assert (await herald.post_event(RID, event=step))[0] == 201
    status, body = await herald.post_event(RID, event=event)
    assert status == 409
    assert f"Legal next events: {legal}" in body["error"]


async def test_recovered_release_is_closed(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    for step in ("started", "failed", "recovered"):
        await herald.post_event(RID, event=f"release.{step}")
    status, body = await herald.post_event(RID, event="release.rolled_back")
    assert status == 409
    assert "none (the release is closed)" in body["error"]


async def test_missing_or_wrong_token_is_401(herald: Herald) -> None:
    assert (await herald.call("POST", "/api/v1/releases", json={}, token=None))[0] == 401
    status, body = await herald.call("POST", "/api/v1/releases", json={}, token="wrong")
    assert status == 401
    assert body["error"] == "invalid bearer token"
    assert (await herald.call("GET", f"/api/v1/releases/{RID}", token="wrong"))[0] == 401


async def test_malformed_json_is_400(herald: Herald) -> None:
    status, body = await herald.call(
        "POST",
        "/api/v1/releases",
        data=b'{"id": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert body["error"].startswith("request body is not valid JSON")
    assert body["details"] == []


async def test_wrong_content_type_is_415(herald: Herald) -> None:
    status, _ = await herald.call(
        "POST", "/api/v1/releases", data=b"id=x", headers={"Content-Type": "text/plain"}
    )
    assert status == 415


async def test_schema_violations_list_every_bad_field_by_path(herald: Herald) -> None:
    manifest: dict[str, Any] = copy.deepcopy(example_manifest())
    del manifest["owner"]
    manifest["git"]["commit"] = "not-a-sha"
    manifest["changes"][0]["summary"] = ""
    manifest["created_at"] = "2025-10-02T20:15:04"  # no time zone
    status, body = await herald.post_manifest(manifest)
    assert status == 422
    paths = {d["path"] for d in body["details"]}
    assert paths == {"owner", "git.commit", "changes[0].summary", "created_at"}
    assert all(d["message"] for d in body["details"])


async def test_bad_event_fields_are_422(herald: Herald) -> None:
    await herald.post_manifest(example_manifest())
    status, body = await herald.post_event(
        RID, event="release.exploded", lead_time_seconds=-1, links={"run": "javascript:alert(1)"}
    )
    assert status == 422
    assert {d["path"] for d in body["details"]} == {"event", "lead_time_seconds", "links.run"}


async def test_body_over_one_mebibyte_is_413_and_nothing_is_stored(herald: Herald) -> None:
    manifest = {**example_manifest(), "padding": "x" * (1024 * 1024)}
    status, body = await herald.post_manifest(manifest)
    assert status == 413
    assert "larger than" in body["error"]
    assert (await herald.call("GET", f"/api/v1/releases/{RID}"))[0] == 404


async def test_unknown_release_is_404(herald: Herald) -> None:
    status, body = await herald.post_event("rel-nope", event="release.started")
    assert status == 404
    assert "post its manifest first" in body["error"]
    assert (await herald.call("GET", "/api/v1/releases/rel-nope"))[0] == 404


async def test_list_filters_by_service_and_env(herald: Herald) -> None:
    for index, (service, env) in enumerate(
        [("webapp", "prod"), ("webapp", "staging"), ("billing", "prod")]
    ):
        manifest = {**example_manifest(), "id": f"rel-{index}", "service": service, "env": env}
        assert (await herald.post_manifest(manifest))[0] == 201
    _, body = await herald.call("GET", "/api/v1/releases?service=webapp")
    assert {r["id"] for r in body["releases"]} == {"rel-0", "rel-1"}
    _, body = await herald.call("GET", "/api/v1/releases?service=webapp&env=prod")
    assert [r["id"] for r in body["releases"]] == ["rel-0"]
    _, body = await herald.call("GET", "/api/v1/releases?limit=2")
    assert len(body["releases"]) == 2
    status, _ = await herald.call("GET", "/api/v1/releases?limit=0")
    assert status == 422


async def test_mrkdwn_in_manifest_text_cannot_ping_anyone(herald: Herald, slack: FakeSlack) -> None:
    manifest: dict[str, Any] = copy.deepcopy(example_manifest())
    manifest["changes"][0]["summary"] = "<!channel> hi <@U123> & <https://evil|click>"
    manifest["owner"] = "team-billing"
    await herald.post_manifest(manifest)
    await herald.post_event(RID, event="release.started")
    await herald.post_event(RID, event="release.failed", symptom="<!here> 5xx > 2%")
    await eventually(lambda: len(slack.posted(FEED)) == 3)
    for message in slack.messages(FEED):
        texts = [message.text] + [b["text"]["text"] for b in message.blocks if "text" in b]
        for text in texts:
            assert "<!" not in text and "<@" not in text and "<https://evil" not in text
    planned = slack.posted(FEED)[0].text
    assert "&lt;!channel&gt; hi &lt;@U123&gt; &amp; &lt;https://evil|click&gt;" in planned
    assert "Symptom: &lt;!here&gt; 5xx &gt; 2%" in slack.posted(FEED)[2].text


async def test_a_huge_release_fits_block_kit_limits(herald: Herald, slack: FakeSlack) -> None:
    manifest: dict[str, Any] = copy.deepcopy(example_manifest())
    manifest["changes"] = [
        {"type": "fix", "scope": f"area{i}", "summary": "s" * 450, "issues": [f"PROD-{i}"]}
        for i in range(1000)
    ]
    manifest["flags"] = [f"flag_{i}" for i in range(150)]
    assert (await herald.post_manifest(manifest))[0] == 201
    await eventually(lambda: len(slack.messages(FEED)) == 2)
    feed = slack.posted(FEED)[0]
    assert "…and 995 more (see thread)" in feed.text
    details = slack.replies(FEED, feed.ts)[0]
    assert len(details.blocks) <= 50
    assert "more" in details.blocks[-1]["text"]["text"]
    assert all(call.ok for call in slack.calls_to("chat.postMessage"))
