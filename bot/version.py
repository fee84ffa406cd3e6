"""Herald's version: `[project] version` in pyproject.toml, the one place it is written, read
from the installed package's metadata (`herald --version`, `GET /healthz`)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

UNKNOWN = "0+unknown"  # run from a source tree that was never installed


@cache
def read_version() -> str:
    """The installed distribution's version, looked up once per process."""
    try:
        return version("herald")
    except PackageNotFoundError:
        return UNKNOWN
