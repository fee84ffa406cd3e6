"""`herald serve | demo | emit | db upgrade | db backup PATH | check-config | dora | digest |
notes`.

Start-up is part of the interface: CI runs `herald emit` at every step, so this module
imports only the argument definitions (standard library only); each command imports what
it needs when it runs (`herald emit`: bot.cli.emit, standard library only too).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.arguments import build_parser

if TYPE_CHECKING:
    from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        import asyncio

        from bot.cli.demo import run_demo

        return asyncio.run(run_demo(show_logs=args.json_logs))
    if args.command == "emit":
        return run_emit(args)
    if args.command in ("dora", "digest", "notes"):
        result: int = importlib.import_module(f"bot.cli.{args.command}").run(args)
        return result
    settings = load_settings()
    if settings is None:
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
    if args.workers is not None and (settings := with_workers(settings, args.workers)) is None:
        return 2
    return run_serve(settings)


def with_workers(settings: Settings, workers: int) -> Settings | None:
    """`herald serve --workers N` over HERALD_WORKERS; None once the problem is printed."""
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return Settings.model_validate({**settings.model_dump(), "workers": workers})
    except ValidationError as exc:
        print(f"herald serve: --workers: {exc.errors()[0]['msg']}", file=sys.stderr)
        return None


def load_settings() -> Settings | None:
    """The settings from the environment, or None once every problem is printed."""
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"config: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return None


def run_serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.cli.checks import find_problems
    from bot.logs import configure_logging
    from bot.serving.loop import new_event_loop
    from bot.serving.server import build_server
    from bot.store.instance_lock import AnotherHeraldRunning

    configure_logging(level=settings.log_level)
    problems = find_problems(settings, for_serve=True)
    if problems:
        for problem in problems:
            print(f"config: {problem}", file=sys.stderr)
        return 2
    try:
        app = build_server(settings)
        web.run_app(app, host=settings.host, port=settings.port, print=None, loop=new_event_loop())
    except AnotherHeraldRunning as exc:
        print(f"herald serve: {exc}", file=sys.stderr)
        return 2
    return 0


def run_backup(settings: Settings, path: Path | None) -> int:
    import sqlite3

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
    from bot.cli.checks import find_problems, run_online_checks

    problems = find_problems(settings, for_serve=True)
    if online:
        problems += run_online_checks(settings)
    for problem in problems:
        print(problem)
    if not problems:
        print("configuration OK")
    return 1 if problems else 0


def run_emit(args: argparse.Namespace) -> int:
    from bot.cli import emit

    base = os.environ.get("HERALD_URL", "").rstrip("/")
    token = os.environ.get("HERALD_INGEST_TOKEN", "")
    if not base or not token:
        print("herald emit needs HERALD_URL and HERALD_INGEST_TOKEN", file=sys.stderr)
        return 2
    if args.kind == "gate":
        from bot.cli.gate import run_gate

        return run_gate(
            base=base, token=token, release_id=args.release_id, wait=args.wait, every=args.every
        )
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
        result = emit.post_json(url=url, token=token, body=body)
    except (OSError, ValueError) as exc:
        print(f"herald emit: {exc}", file=sys.stderr)
        return 2
    print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
