"""The fake Slack Web API, driven by a real slack_sdk AsyncWebClient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from standins import slack_workspace
from standins.slack import FakeSlack
from tests.specs import load_spec
from tests.waiting import eventually

NEWER_THAN_SPEC = frozenset({"files.getUploadURLExternal", "files.completeUploadExternal"})
META = {"event_type": "deploy_status", "event_payload": {"app": "api", "history_id": 7}}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(
        usergroups={"S_ONCALL": ["U_ONCALL", "U_OWNER"]}, ts_base=1_700_000_000
    ) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def post_form(slack: FakeSlack, method: str, data: dict[str, str]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{slack.api_url}{method}", data=data) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return body


# -- basics -------------------------------------------------------------------------------


async def test_urls_and_auth_test(slack: FakeSlack, client: AsyncWebClient) -> None:
    assert slack.api_url == f"{slack.url}/api/"
    assert slack.response_url("k1") == f"{slack.url}/response/k1"
    resp = await client.auth_test()
    assert resp.data == {
        "ok": True,
        "url": "https://herald-test.slack.com/",
        "team": "Herald Test",
        "user": "herald",
        "team_id": "T0HERALD",
        "user_id": "UHERALD",
        "bot_id": "BHERALD",
    }
    [call] = slack.calls_to("auth.test")
    assert call.token == slack.token
    assert call.ok
    assert call.at <= time.monotonic()


async def test_post_message_stores_and_answers(slack: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="COPS", text="deploying api")
    second = await client.chat_postMessage(channel="CFEED", text="other channel")
    third = await client.chat_postMessage(channel="COPS", text="done", blocks=[{"type": "divider"}])
    assert [first["ts"], second["ts"], third["ts"]] == [
        "1700000000.000100",
        "1700000000.000200",
        "1700000000.000300",
    ]
    assert first["channel"] == "COPS"
    assert first["message"]["text"] == "deploying api"
    assert first["message"]["user"] == "UHERALD"
    assert [m.text for m in slack.posted("COPS")] == ["deploying api", "done"]
    msg = slack.posted("COPS")[1]
    assert msg.blocks == [{"type": "divider"}]
    assert (msg.channel, msg.thread_ts, msg.metadata, msg.user) == ("COPS", None, None, "UHERALD")
    call = slack.calls_to("chat.postMessage")[2]
    assert call.body == {"channel": "COPS", "text": "done", "blocks": [{"type": "divider"}]}


async def test_post_to_user_id_goes_to_dm(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postMessage(channel="U_ONCALL", text="you are paged")
    assert resp["channel"] == slack.dm_channel("U_ONCALL") == "D_ONCALL"
    assert [m.text for m in slack.posted("D_ONCALL")] == ["you are paged"]


async def test_threads_history_and_replies(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="COPS", text="release 42", metadata=META)
    r1 = await client.chat_postMessage(channel="COPS", text="step 1", thread_ts=parent["ts"])
    other = await client.chat_postMessage(channel="COPS", text="unrelated")
    r2 = await client.chat_postMessage(
        channel="COPS", text="step 2", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert [m.text for m in slack.posted("COPS")] == ["release 42", "unrelated"]
    assert [m.ts for m in slack.replies("COPS", parent["ts"])] == [r1["ts"], r2["ts"]]
    assert len(slack.messages("COPS")) == 4

    history = await client.conversations_history(channel="COPS")
    # newest first; replies hidden except the broadcast one
    assert [m["ts"] for m in history["messages"]] == [r2["ts"], other["ts"], parent["ts"]]
    top = history["messages"][2]
    assert top["reply_count"] == 2
    assert top["thread_ts"] == parent["ts"]
    assert top["latest_reply"] == r2["ts"]
    assert "metadata" not in top
    assert history["has_more"] is False

    replies = await client.conversations_replies(channel="COPS", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["release 42", "step 1", "step 2"]
    assert replies["messages"][1]["thread_ts"] == parent["ts"]
    assert replies["messages"][1]["parent_user_id"] == "UHERALD"


async def test_metadata_round_trip(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="COPS", text="release", metadata=META)
    assert slack.posted("COPS")[0].metadata == META
    resp = await client.conversations_history(channel="COPS", include_all_metadata=True)
    assert resp["messages"][0]["metadata"] == META
    for flag in ("true", "1"):
        params = {"channel": "COPS", "include_all_metadata": flag}
        resp = await client.api_call("conversations.history", http_verb="GET", params=params)
        assert resp["messages"][0]["metadata"] == META
    resp = await client.conversations_history(channel="COPS")
    assert "metadata" not in resp["messages"][0]
    replies = await client.conversations_replies(
        channel="COPS", ts=posted["ts"], include_all_metadata=True
    )
    assert replies["messages"][0]["metadata"] == META


async def test_history_pagination_and_window(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = [(await client.chat_postMessage(channel="COPS", text=f"m{i}"))["ts"] for i in range(5)]
    page1 = await client.conversations_history(channel="COPS", limit=2)
    assert [m["text"] for m in page1["messages"]] == ["m4", "m3"]
    assert page1["has_more"] is True
    cursor = page1["response_metadata"]["next_cursor"]
    page2 = await client.conversations_history(channel="COPS", limit=2, cursor=cursor)
    assert [m["text"] for m in page2["messages"]] == ["m2", "m1"]
    page3 = await client.conversations_history(
        channel="COPS", limit=2, cursor=page2["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in page3["messages"]] == ["m0"]
    assert page3["has_more"] is False
    assert page3["response_metadata"]["next_cursor"] == ""

    window = await client.conversations_history(channel="COPS", oldest=ts[1], latest=ts[4])
    assert [m["text"] for m in window["messages"]] == ["m3", "m2"]
    inclusive = await client.conversations_history(
        channel="COPS", oldest=ts[1], latest=ts[4], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m4", "m3", "m2", "m1"]

    bad = await slack_error(client.conversations_history(channel="COPS", cursor="nope"))
    assert bad.response["error"] == "invalid_cursor"


async def test_replies_pagination_and_thread_not_found(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="COPS", text="p")
    for i in range(3):
        await client.chat_postMessage(channel="COPS", text=f"r{i}", thread_ts=parent["ts"])
    page1 = await client.conversations_replies(channel="COPS", ts=parent["ts"], limit=2)
    assert [m["text"] for m in page1["messages"]] == ["p", "r0"]
    assert page1["has_more"] is True
    page2 = await client.conversations_replies(
        channel="COPS", ts=parent["ts"], limit=2, cursor=page1["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in page2["messages"]] == ["r1", "r2"]
    assert page2["has_more"] is False

    for channel, ts in (("COPS", "1.000001"), ("CFEED", parent["ts"])):
        err = await slack_error(client.conversations_replies(channel=channel, ts=ts))
        assert err.response["error"] == "thread_not_found"


async def test_update(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="COPS", text="deploying", metadata=META)
    new_meta = {"event_type": "deploy_status", "event_payload": {"state": "done"}}
    resp = await client.chat_update(
        channel="COPS",
        ts=posted["ts"],
        text="deployed",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*deployed*"}}],
        metadata=new_meta,
    )
    assert (resp["channel"], resp["ts"], resp["text"]) == ("COPS", posted["ts"], "deployed")
    [msg] = slack.posted("COPS")
    assert msg.text == "deployed"
    assert msg.blocks[0]["text"]["text"] == "*deployed*"
    assert msg.metadata == new_meta

    missing = await slack_error(client.chat_update(channel="COPS", ts="1.000001", text="x"))
    assert missing.response["error"] == "message_not_found"
    other_channel = await slack_error(
        client.chat_update(channel="CFEED", ts=posted["ts"], text="x")
    )
    assert other_channel.response["error"] == "message_not_found"
    human = slack.inject_message("COPS", "lgtm", user="U_OWNER")
    theirs = await slack_error(client.chat_update(channel="COPS", ts=human.ts, text="x"))
    assert theirs.response["error"] == "cant_update_message"
    assert slack.calls_to("chat.update")[-1].ok is False
    assert [m.text for m in slack.posted("COPS")] == ["deployed", "lgtm"]


async def test_a_message_keeps_every_edit(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="CFEED", text="release 42")
    posted = await client.chat_postMessage(
        channel="CFEED", text="watch: starting", thread_ts=root["ts"], metadata=META
    )
    for minute in (1, 2, 3, 4):
        await client.chat_update(channel="CFEED", ts=posted["ts"], text=f"watch: {minute}m green")

    [watch] = slack.replies("CFEED", root["ts"])
    assert watch.text == "watch: 4m green"
    assert [edit.text for edit in watch.edits] == [f"watch: {m}m green" for m in (1, 2, 3, 4)]
    assert watch.metadata == META, "an edit that sends no metadata keeps the message's"
    replies = await client.conversations_replies(channel="CFEED", ts=root["ts"])
    shown = replies["messages"][1]
    assert (shown["ts"], shown["text"]) == (posted["ts"], "watch: 4m green")
    assert shown["edited"] == {"user": "UHERALD", "ts": watch.edits[-1].ts}


async def test_update_keeps_blocks_left_out_and_clears_what_is_emptied(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [section("*deploying*")]
    posted = await client.chat_postMessage(
        channel="COPS", text="deploying", blocks=blocks, metadata=META
    )
    await client.chat_update(channel="COPS", ts=posted["ts"], text="still deploying")
    [msg] = slack.posted("COPS")
    assert (msg.text, msg.blocks, msg.metadata) == ("still deploying", blocks, META)

    await client.chat_update(channel="COPS", ts=posted["ts"], text="done", blocks=[], metadata={})
    assert (msg.text, msg.blocks, msg.metadata) == ("done", [], None)
    assert [len(edit.blocks) for edit in msg.edits] == [1, 0]


async def test_update_answer_matches_the_saved_openapi_spec(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    spec = load_spec("slack_web_openapi_v2.json")
    schema = spec["paths"]["/chat.update"]["post"]["responses"]["200"]["schema"]
    schema["properties"]["ok"] = spec["definitions"]["defs_ok_true"]
    posted = await client.chat_postMessage(channel="COPS", text="x")
    answer = await client.chat_update(channel="COPS", ts=posted["ts"], text="y")
    Draft4Validator(schema).validate(answer.data)


async def test_ephemeral_and_permalink(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel="COPS", user="U_ONCALL", text="only you")
    assert resp["message_ts"]
    assert slack.ephemerals == [
        {
            "channel": "COPS",
            "user": "U_ONCALL",
            "text": "only you",
            "blocks": [],
            "thread_ts": None,
            "message_ts": resp["message_ts"],
        }
    ]
    assert slack.messages("COPS") == []
    err = await slack_error(client.chat_postEphemeral(channel="COPS", user="U_NOBODY", text="x"))
    assert err.response["error"] == "user_not_in_channel"

    parent = await client.chat_postMessage(channel="COPS", text="p")
    link = await client.chat_getPermalink(channel="COPS", message_ts=parent["ts"])
    assert link["permalink"] == "https://herald-test.slack.com/archives/COPS/p1700000000000200"
    reply = await client.chat_postMessage(channel="COPS", text="r", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel="COPS", message_ts=reply["ts"])
    assert link["permalink"].endswith(f"p1700000000000300?thread_ts={parent['ts']}&cid=COPS")
    err = await slack_error(client.chat_getPermalink(channel="COPS", message_ts="1.000001"))
    assert err.response["error"] == "message_not_found"


def modal(**overrides: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "rollback_confirm",
        "title": {"type": "plain_text", "text": "Roll back api?"},
        "submit": {"type": "plain_text", "text": "Roll back"},
        "private_metadata": '{"release_id": 7}',
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Sure?"}},
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason"},
            },
        ],
    }
    view.update(overrides)
    return view


async def test_views_open(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.views_open(trigger_id="123.456.abc", view=modal())
    assert resp["view"]["id"].startswith("V")
    assert resp["view"]["callback_id"] == "rollback_confirm"
    assert slack.views == [resp["view"]]
    again = await slack_error(client.views_open(trigger_id="123.456.abc", view=modal()))
    assert again.response["error"] == "trigger_exchanged"
    assert len(slack.views) == 1


@pytest.mark.parametrize(
    "view",
    [
        modal(type="home"),
        modal(title={"type": "plain_text", "text": "x" * 25}),
        modal(title={"type": "mrkdwn", "text": "Roll back"}),
        modal(submit={"type": "plain_text", "text": "x" * 25}),
        modal(blocks=[{"type": "divider"}] * 101),
        modal(private_metadata="x" * 3001),
        modal(callback_id="x" * 256),
        {k: v for k, v in modal().items() if k != "submit"},  # input blocks need submit
    ],
    ids=["type", "title_len", "title_type", "submit", "blocks", "metadata", "callback", "nosub"],
)
async def test_views_open_rejects_invalid_view(
    slack: FakeSlack, client: AsyncWebClient, view: dict[str, Any]
) -> None:
    err = await slack_error(client.views_open(trigger_id="t1", view=view))
    assert err.response["error"] == "invalid_arguments"
    assert err.response["errors"]
    assert slack.views == []


async def test_views_open_accepts_limits_and_expires_triggers(
    slack: FakeSlack, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_limits = modal(
        title={"type": "plain_text", "text": "x" * 24},
        blocks=[{"type": "divider"}] * 100,
        private_metadata="x" * 3000,
        callback_id="x" * 255,
    )
    del at_limits["submit"]
    await client.views_open(trigger_id="t-limits", view=at_limits)
    monkeypatch.setattr(slack_workspace, "TRIGGER_TTL", 0.0)
    trigger = slack.issue_trigger_id()
    await asyncio.sleep(0.01)
    err = await slack_error(client.views_open(trigger_id=trigger, view=modal()))
    assert err.response["error"] == "expired_trigger_id"


async def test_usergroups(client: AsyncWebClient) -> None:
    resp = await client.usergroups_users_list(usergroup="S_ONCALL")
    assert resp["users"] == ["U_ONCALL", "U_OWNER"]
    err = await slack_error(client.usergroups_users_list(usergroup="S_NOPE"))
    assert err.response["error"] == "no_such_subteam"


async def test_file_upload_v2(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.files_upload_v2(
        channel="COPS", content="log line\n", filename="deploy.log", title="Deploy log"
    )
    file_id = resp["file"]["id"]
    assert slack.uploads[file_id] == b"log line\n"
    assert slack.files == [
        {
            "id": file_id,
            "name": "deploy.log",
            "title": "Deploy log",
            "size": 9,
            "channel_id": "COPS",
            "thread_ts": None,
            "initial_comment": None,
        }
    ]
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


async def test_response_url(slack: FakeSlack) -> None:
    webhook = AsyncWebhookClient(slack.response_url("cmd-1"))
    resp = await webhook.send(text="working on it", response_type="ephemeral")
    assert resp.status_code == 200
    assert slack.responses == [
        {"text": "working on it", "response_type": "ephemeral", "_key": "cmd-1"}
    ]
    bad = await webhook.send(text="x", blocks=[{"type": "nonsense"}])
    assert bad.status_code == 400
    assert len(slack.responses) == 1


async def test_wait_for(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="COPS", text="hi")
    await slack.wait_for(lambda: len(slack.posted("COPS")) == 1, timeout=0.5)
    with pytest.raises(AssertionError, match=r"posted\(\"CFEED\"\)") as info:
        await slack.wait_for(lambda: bool(slack.posted("CFEED")), timeout=0.05)
    assert "chat.postMessage(ok=True)" in str(info.value)


# -- rejections ---------------------------------------------------------------------------


async def test_auth_rejections(slack: FakeSlack) -> None:
    no_token = AsyncWebClient(base_url=slack.api_url, retry_handlers=[])
    err = await slack_error(no_token.chat_postMessage(channel="COPS", text="x"))
    assert err.response["error"] == "not_authed"
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url, retry_handlers=[])
    err = await slack_error(wrong.chat_postMessage(channel="COPS", text="x"))
    assert err.response["error"] == "invalid_auth"
    assert [c.ok for c in slack.calls] == [False, False]
    assert slack.messages("COPS") == []
    body = await post_form(slack, "auth.test", {"token": "xoxb-wrong"})
    assert body == {"ok": False, "error": "invalid_auth"}
    body = await post_form(slack, "auth.test", {"token": slack.token})
    assert body["ok"] is True
    assert slack.calls[-1].token == slack.token
    assert "token" not in slack.calls[-1].body


async def test_unknown_method(slack: FakeSlack, client: AsyncWebClient) -> None:
    err = await slack_error(client.api_call("chat.teleport", json={"channel": "COPS"}))
    assert err.response.status_code == 200
    assert err.response["error"] == "unknown_method"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x"}, "channel_not_found"),
        ({"channel": "CNOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "COPS"}, "no_text"),
        ({"channel": "COPS", "text": ""}, "no_text"),
        ({"channel": "COPS", "text": "x" * 40_001}, "msg_too_long"),
        (
            {"channel": "COPS", "text": "x", "metadata": {"event_type": "x"}},
            "invalid_metadata_format",
        ),
        (
            {"channel": "COPS", "text": "x", "metadata": {"event_type": 1, "event_payload": {}}},
            "invalid_metadata_format",
        ),
        (
            {"channel": "COPS", "text": "x", "metadata": {"event_type": "a", "event_payload": []}},
            "invalid_metadata_format",
        ),
        ({"channel": "COPS", "text": "x", "metadata": "not json"}, "invalid_metadata_format"),
        ({"channel": "COPS", "text": "x", "markdown_text": "**x**"}, "markdown_text_conflict"),
    ],
)
async def test_post_message_rejections(
    slack: FakeSlack, client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    err = await slack_error(client.api_call("chat.postMessage", json=kwargs))
    assert err.response.status_code == 200
    assert err.response["error"] == error
    assert slack.messages("COPS") == []


async def test_text_at_limit_and_markdown_text(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="COPS", text="x" * 40_000)
    await client.chat_postMessage(channel="COPS", markdown_text="**bold**")
    assert slack.posted("COPS")[1].text == "**bold**"


def section(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def button(**overrides: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"} | (
        overrides
    )


def field(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


INVALID_BLOCKS: dict[str, list[dict[str, Any]]] = {
    "too_many": [{"type": "divider"}] * 51,
    "unknown_type": [{"type": "carousel"}],
    "section_text": [section("x" * 3001)],
    "section_fields_count": [{"type": "section", "fields": [field("f")] * 11}],
    "section_field_len": [{"type": "section", "fields": [field("x" * 2001)]}],
    "header_mrkdwn": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
    "header_len": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
    "context_count": [{"type": "context", "elements": [field("c")] * 11}],
    "actions_count": [
        {"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}
    ],
    "button_text": [
        {"type": "actions", "elements": [button(text={"type": "plain_text", "text": "x" * 76})]}
    ],
    "button_value": [{"type": "actions", "elements": [button(value="x" * 2001)]}],
    "button_url": [{"type": "actions", "elements": [button(url="https://x/" + "x" * 2991)]}],
    "duplicate_block_id": [section("a") | {"block_id": "b"}, section("b") | {"block_id": "b"}],
    "block_id_len": [section("a") | {"block_id": "x" * 256}],
    "action_id_len": [{"type": "actions", "elements": [button(action_id="x" * 256)]}],
    "text_type": [section("a", kind="html")],
}


@pytest.mark.parametrize("name", sorted(INVALID_BLOCKS))
async def test_invalid_blocks(slack: FakeSlack, client: AsyncWebClient, name: str) -> None:
    err = await slack_error(
        client.chat_postMessage(channel="COPS", text="fallback", blocks=INVALID_BLOCKS[name])
    )
    assert err.response["error"] == "invalid_blocks"
    assert err.response["errors"], "errors must name what was wrong"
    assert all("json-pointer:/blocks" in e for e in err.response["errors"])
    assert slack.messages("COPS") == []


async def test_blocks_at_limits_are_accepted(slack: FakeSlack, client: AsyncWebClient) -> None:
    blocks: list[dict[str, Any]] = [
        section("x" * 3000) | {"block_id": "x" * 255},
        {"type": "section", "fields": [field("x" * 2000)] * 10},
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 150}},
        {"type": "context", "elements": [field("c")] * 10},
        {
            "type": "actions",
            "elements": [button(action_id=f"a{i}") for i in range(24)]
            + [
                button(
                    action_id="x" * 255,
                    text={"type": "plain_text", "text": "x" * 75},
                    value="x" * 2000,
                    url="https://x/" + "x" * 2990,
                )
            ],
        },
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    await client.chat_postMessage(channel="COPS", text="fallback", blocks=blocks)
    assert len(slack.posted("COPS")[0].blocks) == 50


async def test_update_rejections(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="COPS", text="x")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "CNOPE", "ts": posted["ts"], "text": "y"}, "channel_not_found"),
        ({"channel": "COPS", "ts": posted["ts"]}, "no_text"),
        ({"channel": "COPS", "ts": posted["ts"], "text": "y" * 40_001}, "msg_too_long"),
        ({"channel": "COPS", "ts": posted["ts"], "blocks": [{"type": "x"}]}, "invalid_blocks"),
        (
            {"channel": "COPS", "ts": posted["ts"], "text": "y", "metadata": [1]},
            "invalid_metadata_format",
        ),
        ({"ts": posted["ts"], "text": "y"}, "channel_not_found"),
        ({"channel": "COPS", "text": "y"}, "invalid_arguments"),
        ({"channel": "COPS", "ts": "", "text": "y"}, "invalid_arguments"),
    ]
    for kwargs, error in cases:
        err = await slack_error(client.api_call("chat.update", json=kwargs))
        assert err.response["error"] == error, kwargs
    assert slack.posted("COPS")[0].text == "x"
    assert slack.posted("COPS")[0].edits == []


async def test_update_in_a_dm_needs_the_dm_id_not_the_user_id(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="U_ONCALL", text="you are paged")
    by_user = await slack_error(client.chat_update(channel="U_ONCALL", ts=posted["ts"], text="y"))
    assert by_user.response["error"] == "channel_not_found"
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="ack'd")
    assert [m.text for m in slack.posted("D_ONCALL")] == ["ack'd"]


async def test_form_body_with_json_string_fields(slack: FakeSlack) -> None:
    blocks = [section("*hi*")]
    body = await post_form(
        slack,
        "chat.postMessage",
        {
            "token": slack.token,
            "channel": "COPS",
            "text": "hi",
            "blocks": json.dumps(blocks),
            "metadata": json.dumps(META),
            "link_names": "1",
            "parse": "full",
        },
    )
    assert body["ok"] is True
    [msg] = slack.posted("COPS")
    assert msg.blocks == blocks
    assert msg.metadata == META
    call = slack.calls[-1]
    assert call.body["blocks"] == blocks
    assert (call.body["link_names"], call.body["parse"]) == ("1", "full")

    bad = await post_form(
        slack,
        "chat.postMessage",
        {
            "token": slack.token,
            "channel": "COPS",
            "text": "x",
            "blocks": json.dumps([{"type": "x"}]),
        },
    )
    assert bad["error"] == "invalid_blocks"
    unparsable = await post_form(
        slack, "chat.postMessage", {"token": slack.token, "channel": "COPS", "blocks": "[{"}
    )
    assert unparsable["error"] == "invalid_blocks_format"


async def test_get_with_query_params(slack: FakeSlack) -> None:
    await post_two(slack)
    url = f"{slack.api_url}conversations.history"
    headers = {"Authorization": f"Bearer {slack.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"channel": "COPS", "limit": "1"}, headers=headers) as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True
    assert len(body["messages"]) == 1
    assert slack.calls[-1].body == {"channel": "COPS", "limit": "1"}


async def post_two(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    await client.chat_postMessage(channel="COPS", text="a")
    await client.chat_postMessage(channel="COPS", text="b")


# -- faults -------------------------------------------------------------------------------


async def test_fail_next(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=502, times=2)
    for _ in range(2):
        err = await slack_error(client.chat_postMessage(channel="COPS", text="x"))
        assert err.response.status_code == 502
        assert err.response["error"] == "internal_error"
    assert slack.messages("COPS") == []
    await client.auth_test()  # other methods unaffected
    await client.chat_postMessage(channel="COPS", text="x")
    assert len(slack.posted("COPS")) == 1
    assert [c.ok for c in slack.calls] == [False, False, True, True]


async def test_fail_when_fails_one_message_until_stopped(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_when("chat.postMessage", lambda args: args.get("text") == "poison", status=503)
    for _ in range(3):
        err = await slack_error(client.chat_postMessage(channel="COPS", text="poison"))
        assert err.response.status_code == 503
    await client.chat_postMessage(channel="COPS", text="fine")  # other messages go through
    slack.stop_failing("chat.postMessage")
    await client.chat_postMessage(channel="COPS", text="poison")
    assert [m.text for m in slack.posted("COPS")] == ["fine", "poison"]


async def test_rate_limit_next(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    err = await slack_error(client.chat_postMessage(channel="COPS", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    assert slack.messages("COPS") == []
    await client.chat_postMessage(channel="COPS", text="x")
    assert len(slack.posted("COPS")) == 1


async def test_drop_after_post_next(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.drop_after_post_next("chat.postMessage")
    with pytest.raises(aiohttp.ClientError):
        await client.chat_postMessage(channel="COPS", text="lost answer")
    assert [m.text for m in slack.posted("COPS")] == ["lost answer"]
    assert slack.calls_to("chat.postMessage")[0].ok is True
    resp = await client.chat_postMessage(channel="COPS", text="next")
    assert resp["ok"] is True


async def test_refuse_next(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="COPS", text="x")
    slack.refuse_next("chat.update", "edit_window_closed", times=2)
    for _ in range(2):
        err = await slack_error(client.chat_update(channel="COPS", ts=posted["ts"], text="y"))
        assert err.response.status_code == 200
        assert err.response.data == {"ok": False, "error": "edit_window_closed"}
    assert slack.posted("COPS")[0].edits == [], "a refused call changes nothing"
    await client.chat_postMessage(channel="COPS", text="other methods answer as usual")
    await client.chat_update(channel="COPS", ts=posted["ts"], text="y")
    assert slack.posted("COPS")[0].text == "y"
    assert [c.ok for c in slack.calls_to("chat.update")] == [False, False, True]


async def test_outage(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.set_outage(True)
    for call in (client.chat_postMessage(channel="COPS", text="x"), client.auth_test()):
        err = await slack_error(call)
        assert err.response.status_code == 503
        assert err.response["error"] == "service_unavailable"
    assert slack.messages("COPS") == []
    slack.set_outage(False)
    await client.chat_postMessage(channel="COPS", text="x")
    assert len(slack.posted("COPS")) == 1


async def test_delay_next(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.delay_next("chat.postMessage", seconds=0.2)
    started = time.monotonic()
    resp = await client.chat_postMessage(channel="COPS", text="slow")
    assert time.monotonic() - started >= 0.2
    assert resp["ok"] is True
    started = time.monotonic()
    await client.chat_postMessage(channel="COPS", text="fast")
    assert time.monotonic() - started < 0.2


async def test_delay_longer_than_client_timeout_still_posts(slack: FakeSlack) -> None:
    impatient = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    impatient.timeout = 0.1  # type: ignore[assignment]
    slack.delay_next("chat.postMessage", seconds=0.3)
    with pytest.raises(TimeoutError):
        await impatient.chat_postMessage(channel="COPS", text="late")
    await eventually(lambda: len(slack.posted("COPS")) == 1, timeout=2)


# -- spec ---------------------------------------------------------------------------------


def test_every_method_exists_in_the_saved_openapi_spec() -> None:
    paths = set(load_spec("slack_web_openapi_v2.json")["paths"])
    slack = FakeSlack()  # not started: only the method table is needed
    implemented = {f"/{m}" for m in slack.methods - NEWER_THAN_SPEC}
    assert implemented - paths == set()
    # the exceptions really are missing from the 2020 spec, and really implemented
    assert {f"/{m}" for m in NEWER_THAN_SPEC} & paths == set()
    assert slack.methods >= NEWER_THAN_SPEC
