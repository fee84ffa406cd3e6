"""`herald serve | demo | emit | db upgrade | db backup PATH | check-config`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sqlite3
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.cli import emit
from bot.cli.checks import find_problems, run_online_checks
from bot.logs import configure_logging
from bot.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herald", description="Herald, the release bot.")
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
    emit_parser = commands.add_parser("emit", help="post a manifest or an event (for CI)")
    kinds = emit_parser.add_subparsers(dest="kind", required=True)
    manifest = kinds.add_parser("manifest", help="post release-manifest.json")
    manifest.add_argument("path", type=Path)
    event = kinds.add_parser("event", help="post a lifecycle event")
    event.add_argument("release_id")
    event.add_argument("event", help="started | deployed | failed | rolled_back | recovered")
    event.add_argument("--lead-time", type=float, help="seconds from commit to deploy")
    event.add_argument("--link", action="append", default=[], help="NAME=URL (repeatable)")
    event.add_argument("--set", action="append", default=[], help="FIELD=VALUE, e.g. symptom=…")
    event.add_argument("--key", help="idempotency key")
    for name, help_text in (
        ("dora", "print DORA metrics (deploy frequency, lead time, CFR, time to restore)"),
        ("digest", "print the stakeholder digest for a period"),
        ("notes", "print a release's notes"),
    ):
        module = importlib.import_module(f"bot.cli.{name}")
        module.add_arguments(commands.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from bot.cli.demo import run_demo

        return asyncio.run(run_demo(show_logs=args.json_logs))
    if args.command == "emit":
        return run_emit(args)
    if args.command in ("dora", "digest", "notes"):
        result: int = importlib.import_module(f"bot.cli.{args.command}").run(args)
        return result
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"config: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return run_check_config(settings, online=args.online)
    if args.command == "db" and args.action == "backup":
        return run_backup(settings, args.path)
    if args.command == "db":
        from bot.store.migrate import upgrade

        upgrade(settings.database_url)
        print("database is up to date")
        return 0
    if args.workers is not None:
        try:
            settings = Settings.model_validate({**settings.model_dump(), "workers": args.workers})
        except ValidationError as exc:
            print(f"herald serve: --workers: {exc.errors()[0]['msg']}", file=sys.stderr)
            return 2
    return run_serve(settings)


def run_serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.serving.server import build_server
    from bot.store.instance_lock import AnotherHeraldRunning

    configure_logging(level=settings.log_level)
    problems = find_problems(settings, for_serve=True)
    if problems:
        for problem in problems:
            print(f"config: {problem}", file=sys.stderr)
        return 2
    try:
        web.run_app(build_server(settings), host=settings.host, port=settings.port, print=None)
    except AnotherHeraldRunning as exc:
        print(f"herald serve: {exc}", file=sys.stderr)
        return 2
    return 0


def run_backup(settings: Settings, path: Path | None) -> int:
    from bot.store.backup import BackupRefused, backup_sqlite

    if path is None:
        print("herald db backup needs the PATH of the copy to write", file=sys.stderr)
        return 2
    try:
        result = backup_sqlite(settings.database_url, path)
    except (BackupRefused, OSError, sqlite3.Error) as exc:
        print(f"herald db backup: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {result.pages} pages ({result.bytes} bytes) to {result.path}")
    return 0


def run_check_config(settings: Settings, *, online: bool = False) -> int:
    problems = find_problems(settings, for_serve=True)
    if online:
        problems += run_online_checks(settings)
    for problem in problems:
        print(problem)
    if not problems:
        print("configuration OK")
    return 1 if problems else 0


def run_emit(args: argparse.Namespace) -> int:
    base = os.environ.get("HERALD_URL", "").rstrip("/")
    token = os.environ.get("HERALD_INGEST_TOKEN", "")
    if not base or not token:
        print("herald emit needs HERALD_URL and HERALD_INGEST_TOKEN", file=sys.stderr)
        return 2
    try:
        if args.kind == "manifest":
            url, body = f"{base}/api/v1/releases", emit.read_manifest(args.path)
        else:
            url = f"{base}/api/v1/releases/{args.release_id}/events"
            body = emit.build_event(
                event=args.event,
                lead_time=args.lead_time,
                links=args.link,
                fields=args.set,
                key=args.key,
            )
        result = asyncio.run(emit.post_json(url=url, token=token, body=body))
    except (OSError, ValueError) as exc:
        print(f"herald emit: {exc}", file=sys.stderr)
        return 2
    print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
