"""`herald --help` and `herald emit` start fast because they load nothing but the standard
library and the command line's own light modules: no SQLAlchemy, Bolt, Slack SDK, aiohttp,
pydantic, matplotlib or Herald's app. Each runs in a fresh interpreter, as CI runs it, which
then lists every module it loaded."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bot.examples import example_manifest
from tests.conftest import INGEST_TOKEN, Herald

LIGHT = {"bot", "bot.cli", "bot.cli.main", "bot.cli.arguments", "bot.cli.emit"}
PROBE = """
import json, sys
from bot.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


async def modules_loaded_by(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """`herald ARGS` in a fresh interpreter: every module it had loaded when it ended."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    probe = json.loads(out.decode().splitlines()[-1])
    assert probe["code"] == 0, err.decode()
    modules: list[str] = probe["modules"]
    return modules


def not_light(modules: list[str]) -> list[str]:
    """What is neither the standard library nor the command line's light modules."""
    return [
        name
        for name in modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith("_")  # the interpreter's own and the venv's start-up hooks
        and name not in LIGHT
    ]


async def test_herald_help_loads_only_the_standard_library_and_its_arguments() -> None:
    modules = await modules_loaded_by("--help")
    assert not_light(modules) == []
    assert "bot.cli.emit" not in modules  # not even the CI client


async def test_herald_emit_loads_only_the_standard_library_and_its_client(
    herald: Herald, tmp_path: Path
) -> None:
    env = {"HERALD_URL": herald.url, "HERALD_INGEST_TOKEN": INGEST_TOKEN}
    manifest = tmp_path / "release-manifest.json"
    manifest.write_text(json.dumps(example_manifest()))
    release_id = str(example_manifest()["id"])
    planned = await modules_loaded_by("emit", "manifest", str(manifest), env=env)
    started = await modules_loaded_by("emit", "event", release_id, "started", env=env)
    assert not_light(planned) == []
    assert not_light(started) == []


async def test_the_server_starts_without_numpy_or_matplotlib() -> None:
    """They are ~60 MB of an idle server: the DORA report and the weekly chart import them
    when they are first drawn, not at start."""
    probe = (
        "import json, sys; import bot.serving.server, bot.app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'matplotlib'))))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert json.loads(out.decode().splitlines()[-1]) == []
