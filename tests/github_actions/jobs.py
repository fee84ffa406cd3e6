"""The job's surroundings for tests/github_actions: a checkout with a tagged commit two hours
old and a `./deploy.sh` that succeeds or fails, and the runner's context around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.github_actions.runner import Context
from tests.harness.fixtures import require_or_skip

VENV_BIN = Path(sys.executable).parent  # this checkout's Herald: `herald` and `python`
COMMIT_AGE = 7200  # seconds from the commit to the deploy, near enough
SUBJECT = "feat(billing): usage-based pricing"
# The one step replaced: Herald comes from this virtual environment, not from an install
INSTALL_FROM_THIS_VENV = {"install": f'echo "{VENV_BIN}" >> "$GITHUB_PATH"\n'}


def make_checkout(root: Path, *, deploy_exit: int) -> Path:
    """A git checkout whose head commit is COMMIT_AGE old, and whose deploy exits as told."""
    if shutil.which("git") is None:
        require_or_skip("git not found")
    workdir = root / "webapp"
    workdir.mkdir()
    deploy = workdir / "deploy.sh"
    deploy.write_text(f'#!/bin/sh\necho "deploying $2 to $1"\nexit {deploy_exit}\n')
    deploy.chmod(0o755)
    when = f"@{int(time.time()) - COMMIT_AGE} +0000"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(root),
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
    }
    for args in (["init", "-q"], ["add", "deploy.sh"], ["commit", "-q", "-m", SUBJECT]):
        subprocess.run(["git", *args], cwd=workdir, env=env, check=True)
    return workdir


def head(workdir: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workdir, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_context(workdir: Path, *, herald_url: str, token: str, install: bool = False) -> Context:
    """The runner's values for a tag push `v1.42.0` of acme/webapp, run 8812, attempt 1.

    With `install`, the action's own install step runs: uv installs this checkout's Herald
    with its locked dependencies, offline from the uv cache `make setup` filled (the uv
    running the tests, `$UV` under `uv run`, comes first on PATH). Without, that step is
    replaced by INSTALL_FROM_THIS_VENV."""
    github = {
        "sha": head(workdir),
        "ref_name": "v1.42.0",
        "repository": "acme/webapp",
        "run_id": "8812",
        "run_attempt": "1",
        "server_url": "https://github.com",
    }
    temp = workdir.parent / "runner-temp"
    temp.mkdir()
    uv = [str(Path(os.environ["UV"]).parent)] if install and "UV" in os.environ else []
    path = os.pathsep.join(
        [*uv, *(p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p) != VENV_BIN)]
    )
    base_env = {
        "PATH": path,  # without this virtual environment: only the install step adds Herald
        "HOME": os.environ.get("HOME", str(workdir.parent)),
        **({"UV_OFFLINE": "1"} if install else {}),
        "LANG": "C.UTF-8",
        "CI": "true",
        "RUNNER_TEMP": str(temp),
        "GITHUB_WORKSPACE": str(workdir),
        **{f"GITHUB_{name.upper()}": value for name, value in github.items()},
    }
    return Context(
        workdir=workdir,
        github=github,
        vars={"HERALD_URL": herald_url},
        secrets={"HERALD_INGEST_TOKEN": token},
        base_env=base_env,
        replaced={} if install else INSTALL_FROM_THIS_VENV,
    )
