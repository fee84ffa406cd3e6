"""`/deploy freeze <service|all> [env] <duration|until TIME> <reason…>` and
`/deploy unfreeze <service|all> [env]` → a typed order. The reason is the user's own words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.deploy.parse_errors import CommandError
from bot.domain.services.directory import Directory
from bot.domain.text import Code, parse_duration, text

ALL = "all"
MAX_FREEZE = timedelta(days=90)
_LENGTH = re.compile(r"^\d{1,4}[mhd]$")  # a freeze is minutes, hours or days long
USAGE = "/deploy freeze SERVICE|all [ENV] 2h|3d|until 2026-12-24T18:00Z REASON"


@dataclass(frozen=True)
class FreezeOrder:
    service: str | None  # None: every service
    env: str | None  # None: every env
    lift: bool = False  # unfreeze
    duration: timedelta | None = None
    until: datetime | None = None
    reason: str = ""

    def scope(self) -> str:
        return f"{self.service or 'all services'}" + (f" in {self.env}" if self.env else "")


def parse_freeze(typed: str, *, directory: Directory) -> FreezeOrder:
    """`typed` starts with `freeze` or `unfreeze`. Raises CommandError naming what is wrong."""
    verb, *words = typed.split()
    lift = verb.lower() == "unfreeze"
    if not words:
        raise CommandError(text(Code(USAGE if not lift else "/deploy unfreeze SERVICE|all [ENV]")))
    service = None if words[0].lower() == ALL else directory.service(words[0]).name
    rest = words[1:]
    env = None
    if rest and _is_env(directory, service, rest[0]):
        env, rest = rest[0], rest[1:]
    if lift:
        if rest:
            raise CommandError(
                text(Code("/deploy unfreeze"), " takes a service (or all) and an env.")
            )
        return FreezeOrder(service, env, lift=True)
    duration, until, rest = _length(rest)
    reason = " ".join(rest)
    if not 3 <= len(reason) <= 300:
        raise CommandError(text("Say why, in 3 to 300 characters, after the length: ", Code(USAGE)))
    return FreezeOrder(service, env, duration=duration, until=until, reason=reason)


def _is_env(directory: Directory, service: str | None, word: str) -> bool:
    if service is not None:
        return directory.is_env(service, word)
    return any(word in entry.envs for entry in directory.services.values())


def _length(words: list[str]) -> tuple[timedelta | None, datetime | None, list[str]]:
    if words and _LENGTH.match(words[0].lower()):
        return parse_duration(words[0].lower()), None, words[1:]
    if len(words) >= 2 and words[0].lower() == "until":
        try:
            until = datetime.fromisoformat(words[1].replace("Z", "+00:00"))
        except ValueError:
            until = None
        if until is not None and until.tzinfo is not None:
            return None, until, words[2:]
        raise CommandError(
            text(
                Code(words[1][:40]),
                " is not a time with its offset, e.g. ",
                Code("2026-12-24T18:00Z"),
            )
        )
    raise CommandError(
        text(
            "How long? e.g. ",
            Code("2h"),
            ", ",
            Code("3d"),
            " or ",
            Code("until 2026-12-24T18:00Z"),
            ": ",
            Code(USAGE),
        )
    )
