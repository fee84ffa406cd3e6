"""Herald's version is written once, `[project] version` in pyproject.toml, and every place a
user reads it — `herald --version`, `GET /healthz`, its OpenAPI description — says the same."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot.version import read_version
from tests.cli.test_startup_imports import modules_loaded_by, not_light
from tests.conftest import Herald
from tests.herald_process import run_herald

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def project_version() -> str:
    version: str = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    return version


def test_the_installed_herald_is_the_version_pyproject_names() -> None:
    """A stale install (pyproject bumped, `make setup` not run) would report another version."""
    assert read_version() == project_version()


async def test_herald_version_prints_the_version() -> None:
    finished = await run_herald("--version", within=30)
    assert finished.code == 0, finished.err
    assert finished.out == f"herald {project_version()}\n"


async def test_herald_version_loads_nothing_but_the_standard_library_and_itself() -> None:
    modules = await modules_loaded_by("--version")
    assert not_light(modules) == ["bot.version"]


async def test_healthz_says_which_herald_answers_without_a_token(herald: Herald) -> None:
    status, body = await herald.call("GET", "/healthz", token=None)
    assert (status, body) == (200, {"status": "ok", "version": project_version()})


async def test_the_openapi_description_documents_the_healthz_answer(herald: Herald) -> None:
    _, document = await herald.call("GET", "/api/v1/openapi.json", token=None)
    answer = document["paths"]["/healthz"]["get"]["responses"]["200"]
    reference = answer["content"]["application/json"]["schema"]["$ref"]
    health = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert health["required"] == ["status", "version"]


def test_the_lock_file_records_the_same_version() -> None:
    """`uv lock` after a bump; `uv sync --frozen` would otherwise install the old one."""
    lock = tomllib.loads((PYPROJECT.parent / "uv.lock").read_text(encoding="utf-8"))
    herald = [package for package in lock["package"] if package["name"] == "herald"]
    assert [package["version"] for package in herald] == [project_version()]
