"""`herald dora [--service S] [--env E] [--window 30d] [--end ISO] [--json]`: DORA from the
database at `HERALD_DATABASE_URL`, as a table (figures, counts, trend against the previous
window) or as the API's JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.dora.report import DoraReport
from bot.domain.dora.text import LABELS, format_cadence, format_count, format_trend, format_value
from bot.domain.dora.window import DoraWindow, parse_window
from bot.errors import InvalidInput
from bot.settings import Settings
from bot.store.database import Database, create_engine, is_sqlite
from bot.store.dora import dora_report


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            _err(f"config: {'.'.join(map(str, error['loc']))}: {error['msg']}")
        return 2
    try:
        length = parse_window(args.window)
        window = (
            DoraWindow.ending(args.end, length)
            if args.end
            else DoraWindow.including(datetime.now(UTC), length)
        )
    except InvalidInput as exc:
        _err(f"herald dora: {exc}")
        return 2
    url = settings.database_url
    if is_sqlite(url) and not _sqlite_file_exists(url):
        _err(f"herald dora: no database at {url}; run `herald db upgrade`")
        return 1
    try:
        report = asyncio.run(_report(url, window, service=args.service, env=args.env))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _err(f"herald dora: cannot read the database: {reason}")
        return 1
    sys.stdout.write(
        (json.dumps(report.as_dict(), indent=2) if args.json else render(report)) + "\n"
    )
    return 0


async def _report(
    url: str, window: DoraWindow, *, service: str | None, env: str | None
) -> DoraReport:
    database = Database(create_engine(url))
    try:
        return await dora_report(database, window=window, service=service, env=env)
    finally:
        await database.close()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _sqlite_file_exists(url: str) -> bool:
    path = make_url(url).database
    return not path or path == ":memory:" or Path(path).exists()


def render(report: DoraReport) -> str:
    """The report as a plain-text table: figure, value, what it rests on, trend."""
    window = report.window
    scope = " · ".join(
        [report.service or "all services", report.env or "all envs", f"last {window.label}"]
    )
    lines = [
        f"DORA · {scope}",
        f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC; "
        "trend against the window before",
        "",
    ]
    rows = [("figure", "value", "based on", "trend")]
    for name, figure in report.figures().items():
        rows.append(
            (
                LABELS[name],
                format_value(figure),
                format_count(name, figure),
                format_trend(name, report),
            )
        )
    rows.append(("Cadence (fourkeys)", format_cadence(report), "", _cadence_before(report)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    lines += ["", f"Open failures (failed in the window, not recovered): {report.open_failures}"]
    return "\n".join(lines)


def _cadence_before(report: DoraReport) -> str:
    before = report.previous.frequency_bucket.value if report.previous else None
    return f"was {before.value}" if before else ""
