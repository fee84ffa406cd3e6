"""`herald` as a real process, the way operators and CI run it: `herald serve` configured only
through its environment (started, killed with SIGKILL, started again), and one-shot commands
whose exit code and output a test reads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, NamedTuple

import aiohttp

from standins.slack import FakeSlack
from tests.conftest import FEED, INGEST_TOKEN, OPS, SIGNING_SECRET
from tests.waiting import eventually

HERALD = (sys.executable, "-m", "bot")  # what the `herald` script runs


class Finished(NamedTuple):
    """A one-shot `herald` command that ran to its end: `code, out, err = finished`."""

    code: int
    out: str
    err: str


async def run_herald(
    *args: str, env: Mapping[str, str] | None = None, within: float = 60.0
) -> Finished:
    """`herald ARGS` to its end, with `env` set on top of this process's environment."""
    return await _run(args, env={**os.environ, **(env or {})}, within=within)


async def _run(args: tuple[str, ...], *, env: Mapping[str, str], within: float) -> Finished:
    process = await asyncio.create_subprocess_exec(
        *HERALD,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"herald {' '.join(args)} did not finish in {within:g} s") from None
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HeraldServer:
    """`herald serve` on a free loopback port, talking to the Slack stand-in, on SQLite.

    Add what else a user would set to `env` before `start` (Argo CD, Prometheus, PagerDuty,
    `HERALD_CONFIG`, ...). With a `log` path, the process's output is appended there."""

    def __init__(
        self,
        *,
        slack: FakeSlack,
        database: Path,
        log: Path | None = None,
        command: tuple[str, ...] = HERALD,
    ) -> None:
        self.log = log
        self.command = command  # what start() runs: another install of herald, say
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "HERALD_FEED_CHANNEL": FEED,
            "HERALD_OPS_CHANNEL": OPS,
            "HERALD_DATABASE_URL": f"sqlite:///{database}",
            "HERALD_INGEST_TOKEN": INGEST_TOKEN,
            "HERALD_PORT": str(self.port),
            "HERALD_HOST": "127.0.0.1",
            "HERALD_DELIVERY_POLL_SECONDS": "0.1",
            "HERALD_SLACK_TIMEOUT_SECONDS": "5",
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *, within: float = 30.0) -> None:
        """Start `herald serve` and return once it answers /readyz."""
        with contextlib.ExitStack() as stack:
            out: IO[bytes] | int = asyncio.subprocess.DEVNULL
            if self.log is not None:
                out = stack.enter_context(self.log.open("ab"))  # the child keeps its own copy
            self.process = await asyncio.create_subprocess_exec(
                *self.command, "serve", env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        async with aiohttp.ClientSession() as session:
            await eventually(
                lambda: self._ready(session),
                timeout=within,
                interval=0.05,
                what="herald serve to answer /readyz",
            )

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        assert self.process is not None
        assert self.process.returncode is None, f"herald serve exited {self.process.returncode}"
        try:
            async with session.get(f"{self.url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    async def serve_once(self, *, within: float = 30.0) -> Finished:
        """`herald serve` in this environment, to its end: for a Herald that must refuse."""
        return await _run(("serve",), env=self.env, within=within)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, *, within: float = 10.0) -> None:
        """SIGTERM, as an orchestrator stops it; SIGKILL if it has not exited `within` s."""
        if not self.running:
            return
        assert self.process is not None
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            await self.kill()

    def cpu_seconds(self) -> float:
        """The CPU time (user + system) the running `herald serve` has used, from /proc."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; utime, stime: 14, 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of its output (with a `log`), for a failure to show."""
        if self.log is None or not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def post(self, path: str, body: Mapping[str, object]) -> int:
        headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + path, json=body, headers=headers) as response,
        ):
            return response.status
