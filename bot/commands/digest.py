"""`herald digest`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `herald digest`."""


def run(args: argparse.Namespace) -> int:
    raise SystemExit("herald digest: not built yet")
