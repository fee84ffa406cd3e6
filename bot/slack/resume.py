"""Commands and button presses that a crash cut short: found in the inbox, carried out late.

The inbox middleware keeps each command's payload from before the ack until its work is
done. A row still open after `grace` belongs to a process that died (this process skips its
own running work); one replica claims it and runs it again through the same code as Bolt.
Destructive actions are claimed once in the audit log, so a resumed rollback or promote that
had already gone through is told "already done" instead of acting twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain.deploy.context import Operations
from bot.slack.listeners import error_reply, work_for
from bot.slack.responses import Respond, Responder
from bot.slack.tasks import BackgroundTasks
from bot.store import inbox
from bot.store.database import Database

log = logging.getLogger(__name__)
REPLAY_WINDOW = timedelta(minutes=10)  # later than this, asking again beats acting late
RESPONSE_URL_LIFETIME = timedelta(minutes=30)  # Slack's limit on answering a request


class CommandResumer:
    def __init__(
        self,
        *,
        database: Database,
        ops: Operations,
        tasks: BackgroundTasks,
        clock: Callable[[], datetime],
        responder: Responder,
        grace: timedelta = timedelta(seconds=30),  # longer than a live command ever takes
    ) -> None:
        self._responder = responder
        self.grace = grace
        self._database = database
        self._ops = ops
        self._tasks = tasks
        self._clock = clock

    async def sweep(self) -> int:
        """Claim the requests whose process died and carry them out; returns how many."""
        now = self._clock()
        pending = await inbox.claim_unfinished(
            database=self._database,
            received_before=now - self.grace,
            now=now,
            skip=self._tasks.running_keys,
        )
        for item in pending:
            await self._resume(item, now=now)
        return len(pending)

    async def _resume(self, item: inbox.Unfinished, *, now: datetime) -> None:
        late = now - item.received_at
        respond = self._responder.for_request(item.request)
        what = describe(item.request)
        extra = {"inbox_key": item.key, "late_seconds": round(late.total_seconds())}
        if late > REPLAY_WINDOW:
            log.warning("not resuming %s: too late", what, extra=extra)
            work = (
                _tell_not_done(respond, what=what, late=late)
                if late < RESPONSE_URL_LIFETIME
                else None
            )
        else:
            log.warning("resuming %s after a restart", what, extra=extra)
            work = work_for(self._ops, item.request, _late(respond, late=late))
        if work is None:
            await inbox.finish(database=self._database, key=item.key, now=now)
            return
        self._tasks.spawn(work, on_error=error_reply(respond), key=item.key)


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
            "text": f":warning: Herald restarted before it finished {what} ({minutes} min ago) "
            "and will not carry it out this late. Check `/deploy status` and run it again if "
            "it is still needed.",
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
