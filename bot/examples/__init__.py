"""Example inputs shipped with Herald: the manifest of docs/design.md §1, for the demo and tests."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def example_manifest() -> dict[str, Any]:
    data = json.loads((files(__package__) / "release-manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
