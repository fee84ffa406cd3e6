"""A DM to the owner of each flag due for clean-up (expired, or shipped over 30 days ago), once
a week per flag: claimed like a report period (bot/store/reports.py), through the outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.flags.stale import StaleFlag, stale_flags
from bot.store.database import Database
from bot.store.releases import SqlReleaseReader
from bot.store.reports import Owed, ReportMessage, queue_owed

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class FlagOwnerReminders:
    database: Database
    clock: Callable[[], datetime]
    wake: Callable[[], None] = lambda: None

    async def run(self) -> int:
        now = self.clock()
        newest = await SqlReleaseReader(database=self.database).newest_each()
        owed = {
            _key(flag, now): Owed(flag.owner, [_message(flag)])
            for flag in stale_flags(newest, now=now)
            if flag.owner and _SLACK_USER.match(flag.owner)
        }
        sent = await queue_owed(self.database, owed, now=now)
        if sent:
            self.wake()
        return sent


def _message(flag: StaleFlag) -> ReportMessage:
    said = f"Flag {flag.describe()} is due for clean-up: remove it, or give it an expiry."
    return ReportMessage(role="flag_owner", body={"text": said})


def _key(flag: StaleFlag, now: datetime) -> str:
    week = now.isocalendar()
    return f"flag:{week.year}-W{week.week:02d}:{flag.service}:{flag.key}:{flag.owner}"
