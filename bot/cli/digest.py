"""`herald digest [--since ISO | --days N] [--until ISO] [--service S] [--env E]
[--format text|slack]`: the stakeholder digest for any period, from Herald's store.

`--format slack` prints the chat.postMessage body (`{"text", "blocks"}`) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.notes.digest import build_digest, render_digest_text
from bot.domain.release.lifecycle import EventType
from bot.settings import Settings
from bot.slack.digest import digest_message
from bot.store.database import Database, create_engine
from bot.store.reporting import failure_symptoms, releases_in_period


class CommandError(Exception):
    """A problem the user can fix; printed as `herald <command>: <message>`."""


def run(args: argparse.Namespace) -> int:
    until: datetime = args.until or datetime.now(UTC)
    since: datetime = args.since or until - timedelta(days=args.days or 1)
    if since >= until:
        return fail("digest", "--since must be before --until")

    async def digest(database: Database) -> str:
        releases = await releases_in_period(
            database, since=since, until=until, service=args.service, env=args.env
        )
        failed = [r.id for r in releases if EventType.FAILED in r.times]
        symptoms = await failure_symptoms(database, failed)
        result = build_digest(releases, since=since, until=until, symptoms=symptoms)
        if args.format == "slack":
            return json.dumps(digest_message(result), indent=2, ensure_ascii=False) + "\n"
        return render_digest_text(result)

    return run_with_database("digest", digest)


def run_with_database(command: str, work: Callable[[Database], Awaitable[str]]) -> int:
    """Settings from the environment, the store at HERALD_DATABASE_URL, `work`'s text to
    stdout; a configuration or database problem is one line on stderr and exit 2."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return fail(command, f"configuration: {problems}")

    async def main() -> str:
        async with open_database(settings.database_url) as database:
            return await work(database)

    try:
        check_database(settings.database_url)
        sys.stdout.write(asyncio.run(main()))
    except CommandError as exc:
        return fail(command, str(exc), code=1)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return fail(
            command,
            f"cannot read the database ({reason}); is HERALD_DATABASE_URL right "
            "and has `herald db upgrade` run?",
        )
    return 0


def check_database(url: str) -> None:
    """A SQLite file that does not exist is an error here, not a new empty database."""
    parsed = make_url(url)
    path = parsed.database or ""
    is_file = parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:")
    if is_file and not Path(path).exists():
        raise OSError(f"no SQLite database at {path}")


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(url))
    try:
        yield database
    finally:
        await database.close()


def fail(command: str, message: str, *, code: int = 2) -> int:
    sys.stderr.write(f"herald {command}: {message}\n")
    return code
