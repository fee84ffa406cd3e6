"""Dependencies point inward: the domain imports no adapter library."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = (
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "sqlmodel",
    "sqlalchemy",
    "apscheduler",
    "alembic",
)
DOMAIN = Path(__file__).resolve().parents[1] / "bot" / "domain"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_no_adapter_library() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in DOMAIN.glob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
        or module.startswith(("bot.slack", "bot.store", "bot.api", "bot.integrations"))
    }
    assert not offenders
    assert len(list(DOMAIN.glob("*.py"))) > 5  # the walk really saw the domain
