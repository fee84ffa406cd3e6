"""Herald as a user installs it: `uv build` from this checkout, then the wheel alone in a
fresh virtual environment under a temporary directory, its dependencies pinned to uv.lock.
Commands then run from a directory outside the checkout with an environment of their own
(no PYTHONPATH, no VIRTUAL_ENV), so nothing can be read from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.harness.fixtures import require_or_skip

ROOT = Path(__file__).resolve().parents[2]


def find_uv() -> list[str]:
    """uv on PATH, or `python3 -m uv` as scripts/bootstrap installs it."""
    if (uv := shutil.which("uv")) is not None:
        return [uv]
    for python in ("python3", sys.executable):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    require_or_skip("uv is not installed (make setup installs it)")


def uv_environment() -> dict[str, str]:
    """This process's environment (uv's cache and index settings) without what points into
    the checkout's own virtual environment."""
    dropped = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    return {name: value for name, value in os.environ.items() if name not in dropped}


def run_uv(uv: list[str], *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [*uv, *args], cwd=cwd, env=uv_environment(), capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Installed:
    """A virtual environment holding the built wheel, and a working directory beside it."""

    wheel: Path
    venv: Path
    home: Path

    @property
    def herald(self) -> Path:
        return self.venv / "bin" / "herald"

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """Only PATH (the environment's bin first), HOME and `env`."""
        clean = {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home)}
        return {**clean, **(env or {})}

    def run(self, *args: str, env: dict[str, str] | None = None, within: float = 90) -> Run:
        """`herald ARGS` from `home`, in environment(env), to its end."""
        done = subprocess.run(
            [str(self.herald), *args],
            cwd=self.home,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=within,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def build_and_install(workdir: Path) -> Installed:
    """`uv build` into `workdir`, then install the wheel (not the sdist, not the checkout)."""
    uv = find_uv()
    dist, venv, home = workdir / "dist", workdir / "venv", workdir / "home"
    home.mkdir()
    run_uv(uv, "build", "--out-dir", str(dist), str(ROOT), cwd=workdir)
    wheels = sorted(dist.glob("herald-*-py3-none-any.whl"))
    assert len(wheels) == 1 and sorted(dist.glob("herald-*.tar.gz")), sorted(dist.iterdir())
    constraints = workdir / "constraints.txt"
    locked = ("export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project")
    run_uv(uv, *locked, "--project", str(ROOT), "--output-file", str(constraints), cwd=workdir)
    run_uv(uv, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=workdir)
    python = str(venv / "bin" / "python")
    install = ("pip", "install", "--quiet", "--python", python, "-c", str(constraints))
    run_uv(uv, *install, str(wheels[0]), cwd=workdir)
    return Installed(wheels[0], venv, home)
