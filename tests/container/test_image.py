"""A team builds Herald's image with `make image` and runs it the way the manifests do: as
uid 10001 on a read-only root filesystem, the SQLite database on a volume.  Inside it
`herald demo` plays the release, and `herald serve` answers /healthz, /readyz and the image's
own HEALTHCHECK, and stops cleanly."""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.container.images import ROOT, ContainerTool, build_image, find_tool
from tests.herald_process import free_port
from tests.served import REQUIRED_SETTINGS, get_json_when_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
SETTINGS = {
    **REQUIRED_SETTINGS,
    "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing is posted in these tests
}


@dataclass(frozen=True)
class Image:
    tool: ContainerTool
    tag: str

    def run(self, *args: str, options: tuple[str, ...] = ()) -> tuple[int, str, str]:
        """`herald ARGS` in a throwaway container with a read-only root filesystem."""
        done = self.tool.run(
            "run", "--rm", "--read-only", "--network", "host", *options, self.tag, *args
        )
        return done.returncode, done.stdout, done.stderr

    def inspect(self) -> dict[str, Any]:
        done = self.tool.run("image", "inspect", self.tag)
        assert done.returncode == 0, done.stderr
        found: dict[str, Any] = json.loads(done.stdout)[0]
        return found


@pytest.fixture(scope="module")
def image() -> Image:
    tool = find_tool()
    return Image(tool, build_image(tool, f"localhost/herald-test:{VERSION}"))


def test_the_image_runs_as_herald_with_its_database_on_a_volume(image: Image) -> None:
    config = image.inspect()["Config"]
    assert config["User"] == "10001:10001"
    assert "/var/lib/herald" in config["Volumes"]
    assert "HERALD_DATABASE_URL=sqlite:////var/lib/herald/herald.db" in config["Env"]
    assert config["Entrypoint"] == ["herald"] and config["Cmd"] == ["serve"]


def test_the_image_is_labelled_with_the_version_it_carries(image: Image) -> None:
    labels = image.inspect()["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.title"] == "herald"
    assert image.run("--version")[1] == f"herald {VERSION}\n"


def test_the_image_plays_the_demo_release_on_a_read_only_root(image: Image) -> None:
    code, out, err = image.run("demo")
    assert code == 0, err
    feed = out[out.index("━━ #release-feed ━━") : out.index("━━ #release-ops ━━")]
    for event in ("planned", "started", "deployed", "failed", "rolled_back", "recovered"):
        assert f"release.{event} | webapp | prod | v1.42.0 (rel-2025-10-02.3)" in feed
    assert "Traceback" not in err


@dataclass(frozen=True)
class Served:
    image: Image
    container: str
    volume: str
    url: str

    def get(self, path: str, *, within: float = 60) -> object:
        """The JSON at `path`, once the server listens; the container's log if it never does."""

        def log() -> str:
            done = self.image.tool.run("logs", self.container)
            return done.stdout + done.stderr

        return get_json_when_up(self.url + path, within=within, log=log)


@pytest.fixture
def served(image: Image, tmp_path: Path) -> Iterator[Served]:
    """`herald serve` (the image's default command) on a fresh volume, detached, its settings
    in an env file as README "Deploy Herald" has them."""
    name = f"herald-test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    assert image.tool.run("volume", "create", name).returncode == 0
    env_file = tmp_path / "herald.env"
    settings = {**SETTINGS, "HERALD_PORT": str(port)}
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    started = image.tool.run(
        "run", "--detach", "--name", name, "--read-only", "--network", "host",
        "--volume", f"{name}:/var/lib/herald", "--env-file", str(env_file), image.tag,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield Served(image, name, name, f"http://127.0.0.1:{port}")
    finally:
        image.tool.run("rm", "--force", name)
        image.tool.run("volume", "rm", "--force", name)


def test_herald_serve_in_the_image_answers_healthz_and_readyz(served: Served) -> None:
    assert served.get("/healthz") == {"status": "ok", "version": VERSION}
    assert served.get("/readyz") == {"status": "ready"}


def test_the_image_healthcheck_reports_a_serving_herald_healthy(served: Served) -> None:
    if served.image.tool.runner != "podman":
        pytest.skip("`healthcheck run` is podman's; docker runs the check on its own schedule")
    served.get("/healthz")
    checked = served.image.tool.run("healthcheck", "run", served.container)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_herald_stops_on_sigterm_and_leaves_its_database_on_the_volume(served: Served) -> None:
    served.get("/readyz")
    tool = served.image.tool
    stopped = tool.run("stop", "--time", "20", served.container)
    assert stopped.returncode == 0, stopped.stderr
    state = tool.run("inspect", "--format", "{{.State.ExitCode}}", served.container)
    assert state.stdout.strip() == "0"
    probe = "import os; print(os.stat('/var/lib/herald/herald.db').st_uid)"
    code, out, err = served.image.run(
        "-c",
        probe,
        options=("--entrypoint", "python3", "--volume", f"{served.volume}:/var/lib/herald"),
    )
    assert (code, out) == (0, "10001\n"), err
