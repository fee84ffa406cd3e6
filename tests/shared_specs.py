"""The published API specs in shared/specs, beside the repository (as in CI's clone)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.harness.fixtures import require_or_skip

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"


def load_spec(name: str) -> dict[str, Any]:
    """The spec as JSON; skips locally when shared/ is missing, fails under CI=true."""
    path = SPECS / name
    if not path.is_file():
        require_or_skip(f"{path} not found (shared/ should sit beside the repository)")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
