"""`herald dora`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `herald dora`."""


def run(args: argparse.Namespace) -> int:
    raise SystemExit("herald dora: not built yet")
