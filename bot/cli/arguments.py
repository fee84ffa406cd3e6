"""Every `herald` command's arguments, and nothing else: `herald --help` and `herald emit`
parse their command line with this module alone, so it imports the standard library only
(each command imports what it needs when it runs; the "cli-start-up" contract in
pyproject.toml keeps it so)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herald", description="Herald, the release bot.")
    parser.add_argument("--version", action=PrintVersion, help="print Herald's version and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server, Slack app and delivery worker")
    serve.add_argument(
        "--workers",
        type=int,
        help="N worker processes carry the work out; the server only records and acks "
        "(default HERALD_WORKERS, 0: one process does everything)",
    )
    demo = commands.add_parser("demo", help="play a whole release offline and show each channel")
    demo.add_argument("--json-logs", action="store_true", help="show Herald's own log lines")
    check = commands.add_parser("check-config", help="print every configuration problem; exit 1")
    check.add_argument("--online", action="store_true", help="also ask Argo CD for every app")
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade", "backup"])
    db.add_argument("path", nargs="?", type=Path, help="backup: the new file to write")
    add_emit_arguments(commands.add_parser("emit", help="post a manifest or an event (for CI)"))
    add_dora_arguments(
        commands.add_parser(
            "dora", help="print DORA metrics (deploy frequency, lead time, CFR, time to restore)"
        )
    )
    add_digest_arguments(
        commands.add_parser("digest", help="print the stakeholder digest for a period")
    )
    add_notes_arguments(commands.add_parser("notes", help="print a release's notes"))
    return parser


class PrintVersion(argparse.Action):
    """`herald --version`: `herald 0.1.0`. The version is looked up only when asked for
    (importlib.metadata alone would double the start-up of `herald --help`)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from bot.version import read_version

        print(f"{parser.prog} {read_version()}")
        parser.exit()


def add_emit_arguments(parser: argparse.ArgumentParser) -> None:
    """`herald emit manifest PATH | event ID EVENT [...]`."""
    kinds = parser.add_subparsers(dest="kind", required=True)
    manifest = kinds.add_parser("manifest", help="post release-manifest.json")
    manifest.add_argument("path", type=Path)
    event = kinds.add_parser("event", help="post a lifecycle event")
    event.add_argument("release_id")
    event.add_argument("event", help="started | deployed | failed | rolled_back | recovered")
    event.add_argument("--lead-time", type=float, help="seconds from commit to deploy")
    event.add_argument("--link", action="append", default=[], help="NAME=URL (repeatable)")
    event.add_argument("--set", action="append", default=[], help="FIELD=VALUE, e.g. symptom=…")
    event.add_argument("--key", help="idempotency key")
    gate = kinds.add_parser(
        "gate", help="ask whether a release may ship (exit 0 go, 1 no, 2 frozen)"
    )
    gate.add_argument("release_id")
    gate.add_argument("--wait", type=seconds, default=0.0, help="keep asking while pending: 30m")
    gate.add_argument("--every", type=seconds, default=10.0, help="between questions: 10s")


def add_dora_arguments(parser: argparse.ArgumentParser) -> None:
    """`herald dora [--service S] [--env E] [--window 30d] [--end ISO] [--json]`."""
    parser.add_argument("--service", help="one service (default: all)")
    parser.add_argument("--env", help="one environment, e.g. prod (default: all)")
    parser.add_argument("--window", default="30d", help="30d, 7d, 12w, 90d… (default 30d)")
    parser.add_argument(
        "--end", type=instant, help="when the window ends, ISO 8601 with a zone (default now)"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead")


def add_digest_arguments(parser: argparse.ArgumentParser) -> None:
    """`herald digest [--since ISO | --days N] [--until ISO] [--service S] [--env E]`."""
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--since", type=iso_time, help="start of the period (ISO 8601, UTC)")
    window.add_argument("--days", type=days, help="the N days before --until (default 1)")
    parser.add_argument("--until", type=iso_time, help="end of the period (default: now)")
    parser.add_argument("--service", help="only this service")
    parser.add_argument("--env", help="only this env")
    parser.add_argument("--format", choices=["text", "slack"], default="text")


def add_notes_arguments(parser: argparse.ArgumentParser) -> None:
    """`herald notes <release-id> [--format markdown|slack] [--audience internal|external]`."""
    parser.add_argument("release_id", help="the release's id, e.g. rel-2025-10-02.3")
    parser.add_argument("--format", choices=["markdown", "slack"], default="markdown")
    parser.add_argument(
        "--audience",
        choices=["internal", "external"],
        default="internal",
        help="internal: every change with issue keys; external: customer-visible only",
    )


def instant(text: str) -> datetime:
    """`2025-11-01T00:00:00Z` (a zone is required: windows are instants)."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or +hh:mm")
    return at


def iso_time(value: str) -> datetime:
    """`2025-10-02`, `2025-10-02T20:00`, `2025-10-02T20:00:00Z`, …; no zone means UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time (e.g. 2025-10-02 or 2025-10-02T20:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def seconds(value: str) -> float:
    """`90s`, `30m`, `2h` or a number of seconds, up to a day."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (value[:-1], units[value[-1]]) if value[-1:] in units else (value, 1)
    try:
        count = float(number) * unit
    except ValueError:
        count = -1
    if not 0 <= count <= 86400:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 90s, 30m or 2h")
    return count


def days(value: str) -> float:
    """A number of days between 0 (excluded) and 3660."""
    try:
        count = float(value)
    except ValueError:
        count = -1
    if not 0 < count <= 3660:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days between 0 and 3660")
    return count
