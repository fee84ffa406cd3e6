"""The published API specs the tests check against, vendored here (sources in SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SPECS = Path(__file__).resolve().parent


def load_spec(name: str) -> dict[str, Any]:
    """The spec as JSON. A missing file fails the test: the specs are part of the repository."""
    path = SPECS / name
    if not path.is_file():
        pytest.fail(f"{path} not found: the specs the tests check against live in tests/specs/")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
