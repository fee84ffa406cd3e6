"""A team installs Herald's wheel into a virtual environment of its own and runs it, far from
this checkout: `herald --version`, `herald demo`, `herald check-config`, `herald db upgrade`
and `herald serve` work from what the wheel carries (its migrations, example manifest and the
demo's stand-ins), or these tests fail."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.herald_process import free_port
from tests.packaging.installed import ROOT, Installed, build_and_install
from tests.served import REQUIRED_SETTINGS, get_json_when_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
SETTINGS = REQUIRED_SETTINGS


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return build_and_install(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_is_installed_and_nothing_comes_from_the_checkout(installed: Installed) -> None:
    probe = "import bot, standins; print(bot.__file__); print(standins.__file__)"
    python = installed.venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", probe], cwd=installed.home, env={}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for module in done.stdout.split():
        assert Path(module).is_relative_to(installed.venv / "lib"), module
    assert installed.wheel.name == f"herald-{VERSION}-py3-none-any.whl"


def test_herald_version_names_the_installed_version(installed: Installed) -> None:
    assert installed.run("--version").out == f"herald {VERSION}\n"


def test_herald_demo_plays_the_release_from_the_wheel(installed: Installed) -> None:
    demo = installed.run("demo", within=120)
    assert demo.code == 0, demo.err
    feed = demo.out[demo.out.index("━━ #release-feed ━━") : demo.out.index("━━ #release-ops ━━")]
    for event in ("planned", "started", "deployed", "failed", "rolled_back", "recovered"):
        assert f"release.{event} | webapp | prod | v1.42.0 (rel-2025-10-02.3)" in feed
    assert "Traceback" not in demo.err


def test_check_config_passes_a_complete_environment(installed: Installed) -> None:
    checked = installed.run("check-config", env=SETTINGS)
    assert (checked.code, checked.out) == (0, "configuration OK\n"), checked.err


def test_check_config_names_a_missing_setting(installed: Installed) -> None:
    settings = {name: value for name, value in SETTINGS.items() if name != "HERALD_INGEST_TOKEN"}
    checked = installed.run("check-config", env=settings)
    assert checked.code == 1
    assert checked.out.splitlines() == ["HERALD_INGEST_TOKEN is not set"]


@dataclass(frozen=True)
class Served:
    url: str
    log: Path

    def get(self, path: str, *, within: float = 30) -> object:
        """The JSON at `path`, once the server listens; its log if it never does."""

        def tail() -> str:
            return self.log.read_text(errors="replace")[-3000:]

        return get_json_when_up(self.url + path, within=within, log=tail)


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[Served]:
    """`herald serve` from the wheel on SQLite, after `herald db upgrade`."""
    port = free_port()
    env = {**SETTINGS, "HERALD_DATABASE_URL": f"sqlite:///{tmp_path / 'herald.db'}"}
    env |= {"HERALD_HOST": "127.0.0.1", "HERALD_PORT": str(port)}
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"  # nothing is posted in this test
    upgraded = installed.run("db", "upgrade", env=env)
    assert (upgraded.code, upgraded.out) == (0, "database is up to date\n"), upgraded.err
    log = tmp_path / "serve.log"
    with (
        log.open("wb") as output,
        subprocess.Popen(
            [str(installed.herald), "serve"],
            cwd=installed.home,
            env=installed.environment(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as server,
    ):
        yield Served(f"http://127.0.0.1:{port}", log)
        server.terminate()
        server.wait(timeout=30)


def test_herald_serve_from_the_wheel_answers_healthz_with_its_version(served: Served) -> None:
    assert served.get("/healthz") == {"status": "ok", "version": VERSION}
    assert served.get("/readyz") == {"status": "ready"}
