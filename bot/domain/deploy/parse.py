"""`/deploy` text → a typed command. Robust to spacing, case and hostile input."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.domain.deploy.freeze_order import FreezeOrder, parse_freeze
from bot.domain.deploy.parse_errors import CommandError as CommandError
from bot.domain.services.directory import Directory, UnknownTarget
from bot.domain.text import Code, text

MAX_TEXT = 200
MAX_REASON = 150
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:%/-]{0,63}$")
_WEIGHT = re.compile(r"^(\d{1,3})%$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_VERSION = re.compile(r"^v?\d+(\.\d+){0,3}([-+][0-9A-Za-z.-]+)?$")
_WINDOW = re.compile(r"^\d{1,3}[dw]$")
_PUBLIC = {"public", "in_channel", "--public", "--in-channel"}


class Verb(StrEnum):
    STATUS = "status"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    PAUSE = "pause"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    METRICS = "metrics"
    CALENDAR = "calendar"
    DEPS = "deps"
    HELP = "help"


class PromoteKind(StrEnum):
    NEXT = "next"
    WEIGHT = "weight"
    FULL = "full"


@dataclass(frozen=True)
class PromoteGoal:
    kind: PromoteKind
    weight: int | None = None


@dataclass(frozen=True)
class DeployCommand:
    verb: Verb
    service: str | None = None
    env: str | None = None
    promote: PromoteGoal | None = None
    rollback_to: str | None = None
    public: bool = False
    window: str = "30d"
    break_glass: str | None = None  # promote during a freeze: the reason, in the user's words
    freeze: FreezeOrder | None = None  # freeze and unfreeze
    weeks: int = 6  # calendar


def parse_command(typed: str, *, directory: Directory) -> DeployCommand:
    """Parse the text after `/deploy`. Raises CommandError or UnknownTarget with a clear reason."""
    if len(typed) > MAX_TEXT:
        raise CommandError(f"That is {len(typed)} characters; /deploy takes at most {MAX_TEXT}.")
    first = typed.split()[0].lower() if typed.split() else ""
    if first in (Verb.FREEZE, Verb.UNFREEZE):
        order = parse_freeze(typed, directory=directory)
        return DeployCommand(Verb(first), order.service, order.env, freeze=order)
    typed, break_glass = _split_break_glass(typed)
    words = typed.split()
    public = any(w.lower() in _PUBLIC for w in words)
    words = [w for w in words if w.lower() not in _PUBLIC]
    if not words:
        return DeployCommand(Verb.HELP)
    for word in words:
        if not _WORD.match(word):
            raise CommandError(text(_shown(word), " is not a service, environment or version."))
    try:
        verb = Verb(words[0].lower())
    except ValueError:
        raise CommandError(text("Unknown command ", _shown(words[0]), ".")) from None
    if verb is Verb.HELP:
        return DeployCommand(Verb.HELP)
    if break_glass is not None and verb is not Verb.PROMOTE:
        raise CommandError(
            text(
                "Only ", Code("/deploy promote"), " waits for a freeze, so only it breaks glass;"
                " pause and rollback are never held."
            )
        )  # fmt: skip
    if verb is Verb.METRICS:
        return _parse_metrics(words[1:], directory=directory, public=public)
    if verb is Verb.CALENDAR:
        return _parse_calendar(words[1:], directory=directory, public=public)
    if verb is Verb.DEPS:
        return _parse_deps(words[1:], directory=directory, public=public)
    command = _parse_target(verb, words[1:], directory=directory, public=public)
    return replace(command, break_glass=break_glass)


def _split_break_glass(typed: str) -> tuple[str, str | None]:
    """`promote webapp prod break-glass hotfix for INC-1234` → the command and its reason."""
    parts = re.split(r"(?i)(?:^|\s)(?:--)?break-glass(?:\s|$)", typed, maxsplit=1)
    if len(parts) == 1:
        return typed, None
    head, reason = parts[0], " ".join(parts[1].split())
    if not 3 <= len(reason) <= MAX_REASON:
        raise CommandError(
            text(Code("break-glass"), f" needs a reason of 3 to {MAX_REASON} characters after it.")
        )
    return head, reason


def _parse_target(
    verb: Verb, args: list[str], *, directory: Directory, public: bool
) -> DeployCommand:
    if not args:
        if verb is Verb.STATUS:
            return DeployCommand(Verb.STATUS, public=public)
        raise CommandError(
            text(
                Code(f"/deploy {verb.value}"),
                " needs a service, e.g. ",
                Code(f"/deploy {verb.value} webapp"),
                ".",
            )
        )
    service = directory.service(args[0]).name
    rest = args[1:]
    env = None
    if rest and directory.is_env(service, rest[0]):
        env, rest = rest[0], rest[1:]
    command = DeployCommand(verb, service, env, public=public)
    if verb is Verb.PROMOTE:
        return _with_promote_goal(command, rest)
    if verb is Verb.ROLLBACK:
        return _with_rollback_target(command, rest)
    if rest:
        raise _unexpected(verb, rest, service, directory)
    directory.resolve(service, env)  # an unknown or ambiguous env fails now, not after the ack
    return command


def _parse_metrics(args: list[str], *, directory: Directory, public: bool) -> DeployCommand:
    """`metrics [service] [env] [window]`: a window looks like `30d` or `12w`."""
    window = "30d"
    if args and _WINDOW.match(args[-1].lower()):
        window, args = args[-1].lower(), args[:-1]
    service = directory.service(args[0]).name if args else None
    env = None
    if len(args) > 1:
        if service is None or not directory.is_env(service, args[1]):
            raise CommandError(
                text(_shown(args[1]), " is not an environment of ", Code(str(service)), ".")
            )
        env = args[1]
    if len(args) > 2:
        raise CommandError(
            text(Code("/deploy metrics"), " takes a service, an environment and a window.")
        )
    return DeployCommand(Verb.METRICS, service, env, public=public, window=window)


def _parse_calendar(args: list[str], *, directory: Directory, public: bool) -> DeployCommand:
    """`calendar [service] [weeks]`: weeks from 1 to 26, default 6."""
    weeks = 6
    if args and args[-1].isdigit():
        weeks, args = int(args[-1]), args[:-1]
        if not 1 <= weeks <= 26:
            raise CommandError(text(Code("/deploy calendar"), " shows 1 to 26 weeks."))
    if len(args) > 1:
        raise CommandError(
            text(Code("/deploy calendar"), " takes a service and a number of weeks.")
        )
    service = directory.service(args[0]).name if args else None
    return DeployCommand(Verb.CALENDAR, service, public=public, weeks=weeks)


def _parse_deps(args: list[str], *, directory: Directory, public: bool) -> DeployCommand:
    """`deps <service>`."""
    if len(args) != 1:
        raise CommandError(
            text(
                Code("/deploy deps"), " takes one service, e.g. ", Code("/deploy deps webapp"), "."
            )
        )
    return DeployCommand(Verb.DEPS, directory.service(args[0]).name, public=public)


def _with_promote_goal(command: DeployCommand, rest: list[str]) -> DeployCommand:
    goal = PromoteGoal(PromoteKind.NEXT)
    if len(rest) > 1:
        raise CommandError(
            text(
                Code("/deploy promote"),
                " takes at most one of ",
                Code("NN%"),
                " or ",
                Code("full"),
                " after the service.",
            )
        )
    if rest:
        word = rest[0].lower()
        match = _WEIGHT.match(word)
        if word == "full":
            goal = PromoteGoal(PromoteKind.FULL)
        elif match and 1 <= int(match.group(1)) <= 100:
            goal = PromoteGoal(PromoteKind.WEIGHT, int(match.group(1)))
        else:
            raise CommandError(
                text(
                    _shown(rest[0]),
                    " is not a weight: use ",
                    Code("NN%"),
                    " (1–100%) or ",
                    Code("full"),
                    ".",
                )
            )
    return DeployCommand(
        command.verb, command.service, command.env, promote=goal, public=command.public
    )


def _with_rollback_target(command: DeployCommand, rest: list[str]) -> DeployCommand:
    if len(rest) > 1:
        raise CommandError(
            text(
                Code("/deploy rollback"),
                " takes at most one version or commit after the service.",
            )
        )
    target = None
    if rest:
        word = rest[0]
        if not (_SHA.match(word.lower()) or _VERSION.match(word)):
            raise CommandError(
                text(_shown(word), " is neither a version (1.41.3) nor a commit sha (2b5d9af).")
            )
        target = word.lower() if _SHA.match(word.lower()) else word.removeprefix("v")
    return DeployCommand(
        command.verb, command.service, command.env, rollback_to=target, public=command.public
    )


def _unexpected(verb: Verb, rest: list[str], service: str, directory: Directory) -> Exception:
    entry = directory.service(service)
    if len(rest) == 1 and entry.envs:
        envs = ", ".join(sorted(entry.envs))
        return UnknownTarget(
            text(Code(service), " has no environment ", _shown(rest[0]), f". Known: {envs}.")
        )
    return CommandError(
        text(
            "Too many words for ", Code(f"/deploy {verb.value}"), ": ", _shown(" ".join(rest)), "."
        )
    )


def _shown(words: str) -> Code:
    """User text echoed back as code, cut at 40 characters."""
    return Code(words[:40] + ("…" if len(words) > 40 else ""))
