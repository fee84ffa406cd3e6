"""`herald notes <release-id> [--format markdown|slack] [--audience internal|external]`:
a stored release's notes in Keep a Changelog sections (see bot/domain/notes/release_notes.py);
`--format slack` prints the mrkdwn Herald posts in the release's feed thread."""

from __future__ import annotations

import argparse

from bot.cli.digest import CommandError, run_with_database
from bot.domain.notes.release_notes import build_notes_for_release, render_markdown
from bot.slack.notes import render_notes_mrkdwn
from bot.store.database import Database
from bot.store.reporting import find_release


def run(args: argparse.Namespace) -> int:
    async def notes(database: Database) -> str:
        release = await find_release(database, args.release_id)
        if release is None:
            raise CommandError(f"no release with id {args.release_id!r}")
        notes = build_notes_for_release(release, audience=args.audience)
        text = render_markdown(notes) if args.format == "markdown" else render_notes_mrkdwn(notes)
        return text if text.endswith("\n") else text + "\n"

    return run_with_database("notes", notes)
