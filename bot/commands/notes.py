"""`herald notes`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `herald notes`."""


def run(args: argparse.Namespace) -> int:
    raise SystemExit("herald notes: not built yet")
