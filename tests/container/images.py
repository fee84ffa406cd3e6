"""Herald's image as `make image` builds it, with whichever container tool works here.

The base is the official slim Python image when it can be pulled; where no registry can be
reached, one made from Debian packages by scripts/build-base-image (kept between runs, like the
build's layers, so only the first run on a machine pays for it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.fixtures import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_BASE = "docker.io/library/python:3.11-slim-bookworm"
DEBIAN_BASE = "localhost/herald-base:bookworm"


@dataclass(frozen=True)
class ContainerTool:
    """podman, buildah or docker, and the environment its commands run in."""

    name: str
    env: dict[str, str]

    @property
    def runner(self) -> str:
        """buildah builds but does not run containers; podman runs what it builds."""
        return "podman" if self.name == "buildah" else self.name

    def run(self, *args: str, within: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.runner, *args], env=self.env, capture_output=True, text=True, timeout=within
        )

    def has_image(self, image: str) -> bool:
        return self.run("image", "inspect", image).returncode == 0


def find_tool() -> ContainerTool:
    """The tool scripts/container-tool picks, with scripts/containers.conf where runc is
    installed (a host whose own defaults cannot run a container)."""
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env and shutil.which("runc") is not None:
        env["CONTAINERS_CONF"] = str(ROOT / "scripts" / "containers.conf")
    found = subprocess.run(
        [str(ROOT / "scripts" / "container-tool")], env=env, capture_output=True, text=True
    )
    if found.returncode != 0:
        require_or_skip(f"no container tool works here: {found.stderr.strip()}")
    tool = ContainerTool(found.stdout.strip(), env)
    if tool.runner != tool.name and shutil.which(tool.runner) is None:
        require_or_skip(f"{tool.name} builds images, but nothing here runs them")
    return tool


def find_base(tool: ContainerTool) -> str:
    """The official base if it is here or can be pulled, else the Debian-made one."""
    if tool.has_image(OFFICIAL_BASE) or tool.run("pull", OFFICIAL_BASE).returncode == 0:
        return OFFICIAL_BASE
    if not tool.has_image(DEBIAN_BASE):
        if os.geteuid() != 0 or shutil.which("debootstrap") is None:
            require_or_skip(
                f"{OFFICIAL_BASE} cannot be pulled and debootstrap (as root) is missing"
            )
        script(tool, "build-base-image", DEBIAN_BASE)
    return DEBIAN_BASE


def build_image(tool: ContainerTool, tag: str) -> str:
    """`make image IMAGE=TAG` (scripts/build-image) on the base found here."""
    base = find_base(tool)
    command = ["make", "--no-print-directory", "-C", str(ROOT), "image", f"IMAGE={tag}"]
    run_to_end(tool, command, env={"HERALD_BASE_IMAGE": base})
    return tag


def script(tool: ContainerTool, name: str, *args: str) -> None:
    run_to_end(tool, [str(ROOT / "scripts" / name), *args])


def run_to_end(
    tool: ContainerTool, command: list[str], *, env: dict[str, str] | None = None
) -> None:
    done = subprocess.run(
        command,
        env={**tool.env, "HERALD_CONTAINER_TOOL": tool.name, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{' '.join(command)}:\n{output}"
