"""Herald's GitHub Action and the example release workflow against the published GitHub
Actions schemas (SchemaStore's github-action.json and github-workflow.json, the copies
vendored in check-jsonschema: `--builtin-schema`, nothing downloaded), and a broken action
or workflow refused, so the check is one that can fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.github_actions.runner import ACTION, WORKFLOW

CHECK = Path(sys.executable).parent / "check-jsonschema"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


def check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored schema; a proxy that answers nothing keeps any
    attempt to download a schema from passing."""
    return subprocess.run(
        [str(CHECK), "--builtin-schema", f"vendor.{schema}", str(path)],
        env={"PATH": "/usr/bin:/bin", **OFFLINE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def broken(tmp_path: Path, source: Path, line: str) -> Path:
    """A copy of `source` without the first line that is `line` (the YAML stays YAML)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    first = [each.rstrip("\n") for each in lines].index(line)
    copy = tmp_path / source.name
    copy.write_text("".join(lines[:first] + lines[first + 1 :]))
    return copy


def test_the_action_and_the_example_workflow_are_valid() -> None:
    """What a user copies validates: the action's metadata and the whole workflow."""
    for schema, path in (("github-actions", ACTION / "action.yml"), ("github-workflows", WORKFLOW)):
        result = check(schema, path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    "line",
    [
        "  using: composite",  # runs.using: the runner would not know how to run it
        "      shell: bash",  # the install step: a composite run step must name its shell
    ],
)
def test_a_broken_action_is_refused(tmp_path: Path, line: str) -> None:
    result = check("github-actions", broken(tmp_path, ACTION / "action.yml", line))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Schema validation errors were encountered" in result.stdout


def test_a_workflow_without_a_runner_is_refused(tmp_path: Path) -> None:
    result = check("github-workflows", broken(tmp_path, WORKFLOW, "    runs-on: ubuntu-latest"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "$.jobs.release" in result.stdout
