"""The layers hold: the import-linter contracts in pyproject.toml are kept, and they see the code.

`make check` runs `lint-imports` too; running it here means `make test` alone also catches a
layer broken by a new module (a sub-package cannot slip past, as a file glob once let it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_STANDIN_IMPORTERS = ("bot.cli.demo", "tests", "bench", "standins")


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_only_the_demo_tests_and_benchmarks_import_the_standins() -> None:
    graph = grimp.build_graph("bot", "standins", "tests", "bench", cache_dir=None)
    importers = {
        importer
        for module in graph.find_descendants("standins") | {"standins"}
        for importer in graph.find_modules_that_directly_import(module)
    }
    outside = {m for m in importers if not m.startswith(ALLOWED_STANDIN_IMPORTERS)}
    assert not outside
    assert "bot.cli.demo" in importers  # the walk really saw the demo's imports


def test_the_domain_is_grouped_by_concept() -> None:
    graph = grimp.build_graph("bot", cache_dir=None)
    concepts = {m.split(".")[2] for m in graph.find_descendants("bot.domain")}
    for concept in (
        "release",
        "services",
        "deploy",
        "checkup",
        "watch",
        "signals",
        "dora",
        "notes",
    ):
        assert concept in concepts
    loose = sorted(p.name for p in (ROOT / "bot" / "domain").glob("*.py"))
    assert loose == ["__init__.py", "paging.py", "ports.py", "text.py", "transactions.py"]
