"""The outbox worker for Slack: one sender per channel, in order, once per message.

A post becomes `chat.postMessage`; an update becomes `chat.update` of the message posted
under its key (bot/slack/edits.py); an upload shares a file (a weekly report's chart) in
its thread (bot/slack/uploads.py).

Backoff follows the cause. A 429 is Slack's rule, not a failure: the channel waits
`Retry-After` and the message keeps its attempt count. A 5xx, a timeout or a dropped
answer backs off exponentially (capped at `MAX_BACKOFF_SECONDS`) until the message has been
failing for `give_up_after`; then it is a dead letter (bot/slack/dead_letters.py) and the
channel moves on. A refusal for good is a dead letter at once. After a 429 the channel
keeps to Slack's pace for a while (bot/slack/pacing.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import IntegrationError
from bot.observability import HeraldMetrics
from bot.slack.dead_letters import dead_letter_note
from bot.slack.edits import KeyedMessageMissing, KeyedPostComing, edit_keyed_message
from bot.slack.history import OUTBOX_KEY, find_posted
from bot.slack.pacing import HOLD as PACE_HOLD
from bot.slack.pacing import SPACING as PACE_SPACING
from bot.slack.pacing import ChannelPace
from bot.slack.uploads import share_file
from bot.slack.web_api import FAILURES, observed, translate_slack_error
from bot.store import outbox
from bot.store.database import Database
from bot.store.outbox import UPDATE, Claim
from bot.store.reports import UPLOAD
from bot.wakeups import sleep_until_woken

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
GIVE_UP_AFTER = timedelta(minutes=10)
ROOT_WAIT_SECONDS = 1.0
PACE_LOOK_SECONDS = 0.1  # a paced sender looks at the clock this often (tests move it)
ROOTS_KEPT = 10_000  # thread roots remembered, so a reply needs no lookup


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
        # (channel, release, role) → ts of a posted thread root: a root never moves; a reply
        # queued in another channel than its root's (bot/store/notice_channels.py) has none
        self._roots: dict[tuple[str, str, str], str] = {}
        self._stopping = False
        # after a 429, a channel keeps to Slack's pace a while, on Herald's clock
        self._pace = ChannelPace(monotonic=lambda: self._clock().timestamp())

    def stop(self) -> None:
        """Finish the message in hand, then return from `run` (no transaction cut short)."""
        self._stopping = True
        self.wake()

    def wake(self, channels: Collection[str] | None = None) -> None:
        """Something was enqueued (in `channels`, when known): look now rather than at the
        next poll. Only those channels' senders look; a channel without a sender yet makes
        the run loop start one."""
        if channels is None:
            self._wakeup.set()
            for event in self._channel_wakeups.values():
                event.set()
            return
        for channel in channels:
            task = self._workers.get(channel)
            if task is None or task.done():
                self._wakeup.set()
            else:
                self._channel_wakeups[channel].set()

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
            if (paced := self._pace.wait_before_posting(channel)) > 0:  # a 429 came lately
                await asyncio.sleep(min(paced, PACE_LOOK_SECONDS))  # a wake cannot hurry it
                continue
            wakeup.clear()  # before claiming, so a commit during the claim is not missed
            try:
                claim = await outbox.claim_or_pace(
                    database=self._database, channel=channel, now=self._clock(), lease=self._lease
                )
                if isinstance(claim, Claim):
                    await self.deliver(claim)
                    continue
                if claim is not None:  # keeping Slack's pace (another replica posted): then
                    self._retry_at[channel] = claim
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
        ts = await find_posted(self._client, claim, thread_ts) if claim.ambiguous else None
        if ts is None:
            ts = await self._post(claim, thread_ts)
        await outbox.mark_sent(
            database=self._database,
            claim=claim,
            ts=ts,
            thread_ts=thread_ts,
            now=self._clock(),
            spacing=timedelta(seconds=PACE_SPACING),
        )
        self._pace.posted(claim.channel)  # after the store's "now": never before its pace

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
            self._pace.throttled(claim.channel)
            await self._wait(claim, error.message, delay=error.retry_after, paced_for=PACE_HOLD)
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

    async def _wait(
        self, claim: Claim, reason: str, *, delay: float, paced_for: float | None = None
    ) -> None:
        """The channel's head waits `delay` s; `paced_for`: Slack said 429, and every
        replica keeps to its pace in the channel that long."""
        now = self._clock()
        at = self._retry_at[claim.channel] = now + timedelta(seconds=delay)
        paced_until = None if paced_for is None else now + timedelta(seconds=paced_for)
        await outbox.mark_waiting(
            database=self._database, claim=claim, at=at, reason=reason, paced_until=paced_until
        )

    async def _thread_ts(self, claim: Claim) -> str | None:
        if claim.thread_role is None:
            return None
        key = (claim.channel, claim.release_id, claim.thread_role)
        if (known := self._roots.get(key)) is not None:
            return known
        where = {"release_id": claim.release_id, "role": claim.thread_role, "channel": key[0]}
        root = await outbox.find_thread_root(database=self._database, **where)
        if root is not None:
            self._roots[key] = root
            if len(self._roots) > ROOTS_KEPT:
                del self._roots[next(iter(self._roots))]  # the oldest release's thread
        elif await outbox.root_is_coming(database=self._database, **where):
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


class _RootNotPosted(Exception):
    """The thread this reply belongs to has not been posted yet."""
