"""People using `/deploy` and its buttons in Slack: signed requests to Herald, replies read
from the Slack stand-in's response URLs."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp

from standins import slack_requests
from standins.slack import FakeSlack
from tests.slack.reply import Ack, Button, Reply
from tests.slack.signed import signed_headers
from tests.waiting import eventually

_keys = itertools.count(1)


class Conversation:
    """`/deploy` commands and clicks sent to the Herald at `url`."""

    def __init__(self, *, url: str, session: aiohttp.ClientSession, slack: FakeSlack) -> None:
        self.url = url
        self.session = session
        self.slack = slack

    async def send(self, text: str, *, user: str = "U0OWNER", trigger: str | None = None) -> Ack:
        """Send `/deploy text` and return Herald's ack, without waiting for the reply."""
        key = f"cmd{next(_keys)}"
        body = slack_requests.slash_command(
            text,
            user=user,
            trigger_id=trigger or f"{key}.trigger",
            response_url=self.slack.response_url(key),
        )
        status, ack = await self._send(body)
        return Ack(status, ack, key)

    async def deploy(
        self,
        text: str,
        *,
        user: str = "U0OWNER",
        trigger: str | None = None,
        wait: float = 5.0,
    ) -> Reply:
        """`user` types `/deploy text`: Herald acks at once, empty, and replies later."""
        ack = await self.send(text, user=user, trigger=trigger)
        assert (ack.status, ack.body) == (200, ""), ack
        return await self.reply(ack.key, wait=wait)

    async def press(
        self, button: Button, *, user: str = "U0OWNER", state: dict[str, Any] | None = None
    ) -> str:
        """`user` clicks `button` (with the message's inputs as `state`); returns the
        response URL key its reply is posted under."""
        key = f"act{next(_keys)}"
        body = slack_requests.block_action(
            action_id=button.action_id,
            value=button.value,
            user=user,
            trigger_id=f"{key}.trigger",
            action_ts=f"{next(_keys)}.000001",
            response_url=self.slack.response_url(key),
            state=state,
        )
        status, _ = await self._send(body)
        assert status == 200
        return key

    async def click(
        self, button: Button, *, user: str = "U0OWNER", state: dict[str, Any] | None = None
    ) -> Reply:
        """`user` clicks `button` and reads Herald's reply."""
        return await self.reply(await self.press(button, user=user, state=state))

    async def pick_user(
        self, *, action_id: str, block_id: str, picked: str, user: str = "U0OWNER"
    ) -> Reply:
        """`user` picks `picked` in the users_select `action_id` of block `block_id`."""
        key = f"act{next(_keys)}"
        body = slack_requests.block_action(
            action_id=action_id,
            value="",
            user=user,
            trigger_id=f"{key}.trigger",
            action_ts=f"{next(_keys)}.000001",
            response_url=self.slack.response_url(key),
            element={"type": "users_select", "block_id": block_id, "selected_user": picked},
        )
        status, _ = await self._send(body)
        assert status == 200
        return await self.reply(key)

    async def submit(
        self, *, callback_id: str, values: dict[str, Any], metadata: str, user: str = "U0OWNER"
    ) -> tuple[int, str]:
        """`user` submits the modal `callback_id` with `values` (block id → {action id: …})."""
        body = slack_requests.view_submission(
            user=user, callback_id=callback_id, values=values, private_metadata=metadata
        )
        return await self._send(body)

    async def event(self, event: dict[str, Any]) -> int:
        """Slack delivers `event` (Events API); Herald's answer status."""
        body = slack_requests.event_callback(event, event_id=f"Ev{next(_keys):08d}")
        status, _ = await self._send(body, content_type="application/json")
        return status

    async def _send(self, body: str, *, content_type: str = slack_requests.FORM) -> tuple[int, str]:
        headers = signed_headers(body, content_type=content_type)
        async with self.session.post(
            self.url + "/slack/events", data=body.encode(), headers=headers
        ) as response:
            return response.status, await response.text()

    def replies(self, key: str) -> list[Reply]:
        """Every reply posted under `key` so far."""
        return [Reply(key, r) for r in self.slack.responses if r["_key"] == key]

    async def reply(self, key: str, *, wait: float = 5.0) -> Reply:
        """The first reply posted under `key`, once it is there."""
        await eventually(lambda: bool(self.replies(key)), timeout=wait)
        return self.replies(key)[0]
