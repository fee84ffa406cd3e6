"""Commands and button presses kept in the inbox, carried out by whichever process claims
them: a worker of `herald serve --workers N`, or the process whose ack recorded them.

The inbox middleware keeps each command's payload from before the ack until its work is
done. The process carrying one out holds a claim on it and renews it while it runs; a claim
not renewed for `grace` belongs to a process that died, and is taken again (a supervisor
that sees its worker die hands the claims out at once). A second attempt says it comes late;
a third is not made. Destructive actions are claimed once in the audit log, so a resumed
rollback or promote that had already gone through is told "already done" instead of acting
twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain.deploy.context import Operations
from bot.slack.listeners import Work, error_reply, work_for
from bot.slack.responses import Respond, Responder
from bot.slack.tasks import BackgroundTasks
from bot.store import inbox
from bot.store.database import Database

log = logging.getLogger(__name__)
REPLAY_WINDOW = timedelta(minutes=10)  # later than this, asking again beats acting late
RESPONSE_URL_LIFETIME = timedelta(minutes=30)  # Slack's limit on answering a request
MAX_ATTEMPTS = 2  # a request whose process died twice carrying it out is not tried again
IN_FLIGHT = 32  # requests one process carries out at once; the rest wait for a claim


def this_process() -> str:
    """How a claim names the process that holds it (unique across replicas)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CommandQueue:
    def __init__(
        self,
        *,
        database: Database,
        ops: Operations,
        tasks: BackgroundTasks,
        clock: Callable[[], datetime],
        responder: Responder,
        worker: str,
        grace: timedelta = timedelta(seconds=30),  # longer than a renewal ever takes
        outcome: Callable[[str], None] = lambda outcome: None,  # herald_commands_total
    ) -> None:
        self._responder = responder
        self._outcome = outcome
        self.grace = grace
        self.worker = worker
        self._database = database
        self._ops = ops
        self._tasks = tasks
        self._clock = clock
        self._renewed: datetime | None = None
        self._sweeping = asyncio.Lock()  # the poll, a nudge and a freed slot may coincide
        self._full = False  # the last sweep had no room for all it might have claimed
        self._room = asyncio.Event()  # set when a slot frees up while others may be waiting
        tasks.call_when_freed(self._on_freed)

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: three chances before a claim goes stale."""
        return min(10.0, self.grace.total_seconds() / 3)

    async def sweep(self) -> int:
        """Renew this process's claims, claim what nobody carries out, start it; how many."""
        async with self._sweeping:
            now = self._clock()
            if self._renewed is None or now - self._renewed >= timedelta(seconds=self.renew_every):
                await inbox.renew_claims(database=self._database, worker=self.worker, now=now)
                self._renewed = now
            room = IN_FLIGHT - len(self._tasks.running_keys)
            self._full = True
            if room <= 0:
                return 0
            claimed = await inbox.claim_pending(
                database=self._database,
                worker=self.worker,
                now=now,
                stale_before=now - self.grace,
                limit=room,
            )
            self._full = len(claimed) == room
            for item in claimed:
                await self._start(item, now=now)
            return len(claimed)

    async def claim_as_slots_free(self) -> None:
        """Runs with the process: while more commands wait than it carries out at once, it
        claims the next as soon as one of its own is done, not at the next nudge or poll."""
        while True:
            await self._room.wait()
            self._room.clear()
            try:
                await self.sweep()
            except Exception:
                log.exception("could not claim commands from the inbox; trying again")

    def _on_freed(self) -> None:
        if self._full:
            self._room.set()

    async def _start(self, item: inbox.Claimed, *, now: datetime) -> None:
        late = now - item.received_at
        respond = self._responder.for_request(item.request)
        what = describe(item.request)
        extra = {"inbox_key": item.key, "late_seconds": round(late.total_seconds())}
        resumed = item.attempts > 1
        work: Work | None = None
        done_as = "late" if resumed else "answered"
        if item.attempts > MAX_ATTEMPTS:  # its answer may have gone out before the crash
            log.error("gave up on %s: its process died twice carrying it out", what, extra=extra)
            self._outcome("given_up")
        elif late > REPLAY_WINDOW:
            log.warning("not carrying out %s: too late", what, extra=extra)
            done_as = "too_late"
            if late < RESPONSE_URL_LIFETIME:
                work = _tell_not_done(respond, what=what, late=late)
            else:
                self._outcome(done_as)
        else:
            if resumed:
                log.warning("resuming %s after its process died", what, extra=extra)
            work = work_for(
                self._ops, item.request, _late(respond, late=late) if resumed else respond
            )
        if work is None:
            await inbox.finish(database=self._database, key=item.key, now=now)
            return
        self._tasks.spawn(work, on_error=error_reply(respond), key=item.key, done_as=done_as)


def describe(request: dict[str, Any]) -> str:
    if "command" in request:
        return f"`{request['command']} {request.get('text', '')}`".replace(" `", "`")
    actions = request.get("actions") or [{}]
    return f"the button `{actions[0].get('action_id', '?')}`"


async def _tell_not_done(respond: Respond, *, what: str, late: timedelta) -> None:
    minutes = int(late.total_seconds() // 60)
    await respond(
        {
            "response_type": "ephemeral",
            "text": f":warning: Herald did not get to {what} ({minutes} min ago: it "
            "restarted or was overloaded) and will not carry it out this late. Check "
            "`/deploy status` and run it again if it is still needed.",
        }
    )


def _late(respond: Respond, *, late: timedelta) -> Respond:
    """Answers as usual, with a line saying the answer comes late because Herald restarted."""
    note = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"_Answered {round(late.total_seconds())} s late: Herald restarted "
                "while handling this._",
            }
        ],
    }

    async def answer(message: dict[str, Any]) -> Any:
        if "blocks" in message:
            message = {**message, "blocks": [*message["blocks"], note]}
        return await respond(message)

    return answer
