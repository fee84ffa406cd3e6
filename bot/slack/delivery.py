"""The outbox worker for Slack: one sender per channel, in order, once per message.

A post becomes `chat.postMessage`; an update becomes `chat.update` of the message posted
under its key (bot/slack/edits.py); an upload shares a file (a weekly report's chart) in
its thread (bot/slack/uploads.py).

Backoff follows the cause. A 429 is Slack's rule, not a failure: the channel waits
`Retry-After` and the message keeps its attempt count. A 5xx, a timeout or a dropped
answer backs off exponentially (capped at `MAX_BACKOFF_SECONDS`) until the message has been
failing for `give_up_after`; then it is a dead letter (bot/slack/dead_letters.py) and the
channel moves on. A refusal for good is a dead letter at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import IntegrationError
from bot.observability import HeraldMetrics
from bot.slack.dead_letters import dead_letter_note
from bot.slack.edits import KeyedMessageMissing, KeyedPostComing, edit_keyed_message
from bot.slack.uploads import share_file
from bot.slack.web_api import FAILURES, observed, translate_slack_error
from bot.store import outbox
from bot.store.database import Database
from bot.store.outbox import UPDATE, Claim
from bot.store.reports import UPLOAD
from bot.wakeups import sleep_until_woken

log = logging.getLogger(__name__)

OUTBOX_KEY = "herald_outbox_id"
MAX_BACKOFF_SECONDS = 60.0
GIVE_UP_AFTER = timedelta(minutes=10)
HISTORY_PAGES = 10
ROOT_WAIT_SECONDS = 1.0


class SlackDelivery:
    """Claims outbox rows per channel and posts them; reconciles ambiguous posts by metadata."""

    def __init__(
        self,
        *,
        database: Database,
        client: AsyncWebClient,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
        lease: timedelta = timedelta(seconds=30),
        metrics: HeraldMetrics | None = None,
        give_up_after: timedelta = GIVE_UP_AFTER,
    ) -> None:
        self._give_up_after = give_up_after
        self._metrics = metrics
        self._database = database
        self._client = client
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._lease = lease
        self._wakeup = asyncio.Event()
        self._channel_wakeups: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._retry_at: dict[str, datetime] = {}  # channel → when its waiting head is due
        self._stopping = False

    def stop(self) -> None:
        """Finish the message in hand, then return from `run` (no transaction cut short)."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wakeup.set()
        for event in self._channel_wakeups.values():
            event.set()

    async def run(self) -> None:
        """Start a sender per channel with open messages, until stopped (or cancelled)."""
        try:
            while not self._stopping:
                self._wakeup.clear()  # before looking, so a wake during the look is kept
                for channel in await outbox.list_open_channels(database=self._database):
                    task = self._workers.get(channel)
                    if task is None or task.done():
                        self._channel_wakeups.setdefault(channel, asyncio.Event()).set()
                        self._workers[channel] = asyncio.create_task(self._sender(channel))
                await sleep_until_woken(self._wakeup, seconds=self._poll_seconds)
        finally:
            if not self._stopping:
                for task in self._workers.values():
                    task.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _sender(self, channel: str) -> None:
        """Send one channel's messages in order; sleep until woken or the next poll."""
        wakeup = self._channel_wakeups[channel]
        while not self._stopping:
            wakeup.clear()  # before claiming, so a commit during the claim is not missed
            try:
                claim = await outbox.claim_next(
                    database=self._database, channel=channel, now=self._clock(), lease=self._lease
                )
                if claim is not None:
                    await self.deliver(claim)
                    continue
            except Exception:  # the worker outlives a database hiccup; the row stays claimable
                log.exception("delivery failed unexpectedly", extra={"channel": channel})
            await sleep_until_woken(wakeup, seconds=self._idle_seconds(channel))

    def _idle_seconds(self, channel: str) -> float:
        """Until the next poll, or until the channel's head is due when that is sooner (a
        Retry-After or a backoff shorter than the poll), so it is not tried late."""
        at = self._retry_at.pop(channel, None)
        if at is None:
            return self._poll_seconds
        due_in = (at - self._clock()).total_seconds() + 0.01
        return max(0.0, min(self._poll_seconds, due_in))

    async def deliver(self, claim: Claim) -> None:
        """Send one claimed message (or find it already posted) and record the outcome."""
        try:
            if claim.operation == UPDATE:
                await self._update(claim)
            elif claim.operation == UPLOAD:
                await self._upload(claim)
            else:
                await self._post_once(claim)
        except _RootNotPosted:
            await self._wait(claim, "thread root not posted yet", delay=ROOT_WAIT_SECONDS)
        except KeyedPostComing:
            await self._wait(claim, "message to update not posted yet", delay=ROOT_WAIT_SECONDS)
        except KeyedMessageMissing as exc:
            await self._give_up(claim, str(exc), reason="update has no message to edit")
        except FAILURES as exc:
            await self._handle_failure(claim, translate_slack_error(exc))

    async def _post_once(self, claim: Claim) -> None:
        thread_ts = await self._thread_ts(claim)
        ts = await self._find_posted(claim, thread_ts) if claim.ambiguous else None
        if ts is None:
            ts = await self._post(claim, thread_ts)
        await outbox.mark_sent(
            database=self._database, claim=claim, ts=ts, thread_ts=thread_ts, now=self._clock()
        )

    async def _update(self, claim: Claim) -> None:
        ts = await edit_keyed_message(
            database=self._database, client=self._client, claim=claim, metrics=self._metrics
        )
        await outbox.mark_delivered(database=self._database, claim=claim, now=self._clock(), ts=ts)

    async def _upload(self, claim: Claim) -> None:
        """Share the file once: an upload that may have gone through is not repeated."""
        if claim.ambiguous:
            await self._give_up(claim, "may have been shared already", reason="upload not repeated")
            return
        thread_ts = await self._thread_ts(claim)
        try:
            await share_file(
                self._client,
                channel=claim.channel,
                body=claim.body,
                thread_ts=thread_ts,
                metrics=self._metrics,
            )
        except SlackRequestError as exc:  # the file itself did not reach Slack's upload URL
            await self._handle_failure(claim, IntegrationError("slack", f"upload: {exc}"))
            return
        await outbox.mark_delivered(database=self._database, claim=claim, now=self._clock())

    async def _give_up(
        self, claim: Claim, error: str, *, reason: str = "slack refused message for good"
    ) -> None:
        extra = {"outbox_id": claim.id, "channel": claim.channel, "attempt": claim.attempts}
        log.error("%s: %s", reason, error, extra={**extra, "operation": claim.operation})
        await outbox.mark_dead(
            database=self._database,
            claim=claim,
            error=error,
            now=self._clock(),
            note=dead_letter_note(claim, error=error),
        )

    async def _handle_failure(self, claim: Claim, error: IntegrationError) -> None:
        extra = {"outbox_id": claim.id, "channel": claim.channel, "attempt": claim.attempts}
        if error.retry_after is not None:  # a 429: the channel waits, nothing failed
            log.info("slack rate limited; waiting %.1fs", error.retry_after, extra=extra)
            await self._wait(claim, error.message, delay=error.retry_after)
            return
        if not error.retryable:
            await self._give_up(claim, error.message)
            return
        now = self._clock()
        left = ((claim.failing_since or now) + self._give_up_after - now).total_seconds()
        if left <= 0:
            await self._give_up(claim, error.message, reason="slack delivery kept failing")
            return
        delay = min(MAX_BACKOFF_SECONDS, 2.0 ** min(claim.attempts, 9) / 4, left)
        log.warning(
            "slack delivery failed, retrying in %.1fs: %s", delay, error.message, extra=extra
        )
        self._retry_at[claim.channel] = now + timedelta(seconds=delay)
        await outbox.mark_retry(
            database=self._database,
            claim=claim,
            at=self._retry_at[claim.channel],
            error=error.message,
            ambiguous=error.ambiguous,
            now=now,
        )

    async def _wait(self, claim: Claim, reason: str, *, delay: float) -> None:
        at = self._retry_at[claim.channel] = self._clock() + timedelta(seconds=delay)
        await outbox.mark_waiting(database=self._database, claim=claim, at=at, reason=reason)

    async def _thread_ts(self, claim: Claim) -> str | None:
        if claim.thread_role is None:
            return None
        root = await outbox.find_thread_root(
            database=self._database, release_id=claim.release_id, role=claim.thread_role
        )
        if root is None and await outbox.root_is_coming(
            database=self._database, release_id=claim.release_id, role=claim.thread_role
        ):
            raise _RootNotPosted
        return root  # a root that can never be posted: say it at the top level instead

    async def _post(self, claim: Claim, thread_ts: str | None) -> str:
        body = claim.body
        metadata = body.get("metadata")
        if metadata is not None:
            payload = {**metadata.get("event_payload", {}), OUTBOX_KEY: claim.id}
            metadata = {**metadata, "event_payload": payload}
        response = await observed(
            self._metrics, "chat.postMessage", self._post_message(claim, body, metadata, thread_ts)
        )
        return str(response["ts"])

    async def _post_message(
        self, claim: Claim, body: dict[str, Any], metadata: Any, thread_ts: str | None
    ) -> Any:
        return await self._client.chat_postMessage(
            channel=claim.channel,
            text=body.get("text", ""),
            blocks=body.get("blocks"),
            metadata=metadata,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )

    async def _find_posted(self, claim: Claim, thread_ts: str | None) -> str | None:
        """After an ambiguous failure: was the message posted after all? Look for its metadata."""
        oldest = f"{(claim.created_at - timedelta(minutes=5)).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                response = await self._client.conversations_replies(
                    channel=claim.channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                response = await self._client.conversations_history(
                    channel=claim.channel,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            if (ts := _find_outbox_id(response.get("messages") or [], claim.id)) is not None:
                log.info("found ambiguous post in history", extra={"outbox_id": claim.id})
                return ts
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        log.warning("history too long to search; posting again", extra={"outbox_id": claim.id})
        return None


def _find_outbox_id(messages: list[dict[str, Any]], outbox_id: int) -> str | None:
    for message in messages:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get(OUTBOX_KEY) == outbox_id:
            return str(message["ts"])
    return None


class _RootNotPosted(Exception):
    """The thread this reply belongs to has not been posted yet."""
