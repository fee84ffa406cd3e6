"""Start-up time of the commands CI runs and idle memory of `herald serve`, each against a
floor measured in the same run.

1. **Start-up**: the wall time of `herald --help`, `herald emit manifest PATH` and `herald
   emit event ID deployed` (the `herald` console script, as CI runs it), N times each,
   interleaved with the floors `python -c pass` and `python -c "import aiohttp"`; p50 and p90
   per run, and each p50 as a ratio to the floors' p50. `herald emit` posts to a tiny local
   HTTP server that answers 201 with Herald's body; each emit must print "recorded".
   Goal: every `herald` p50 < 300 ms.
2. **Idle memory**: VmRSS (/proc/<pid>/status) of `herald serve` once it answers /readyz and
   has idled `--idle` s, on a new database (its first start: it migrates) and restarted on
   the same database (every later start: nothing to migrate), configured as in production
   through its environment: a SQLite file, the catalogue of manifests/herald/base/configmap.yaml,
   the Slack and Argo CD stand-ins on loopback, production's delivery poll. The floor: a
   bare aiohttp + Bolt `AsyncApp` process (one `/deploy` listener that acks) idle the same
   way. Goal: Herald < 100 MB.

The floors always run under this interpreter; `--python` runs herald under another one (a
production install: `UV_PROJECT_ENVIRONMENT=/tmp/prod uv sync --frozen --no-dev`, which has
no dev-only packages such as Pygments).

Usage: python bench/startup.py [--runs 3] [--n 10] [--idle 2] [--python PATH] [--tag=-prod]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.harness import percentile, table, write_results
from bot.examples import example_manifest
from standins.argocd import FakeArgoCD
from standins.slack import FakeSlack
from tests.herald_process import HeraldServer, free_port
from tests.waiting import eventually

STARTUP_GOAL_MS = 300.0
RSS_GOAL_MB = 100.0
TOKEN = "bench-ingest-token"
ROOT = Path(__file__).resolve().parent.parent
CONFIGMAP = ROOT / "manifests" / "herald" / "base" / "configmap.yaml"
FLOORS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import aiohttp'": [sys.executable, "-c", "import aiohttp"],
}
BARE_BOLT = """
import sys
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

port, slack_url, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
bolt = AsyncApp(client=AsyncWebClient(token=token, base_url=slack_url), signing_secret="s")

@bolt.command("/deploy")
async def deploy(ack):
    await ack()

async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

async def ready(request):
    return web.Response(text="ok")

app = web.Application()
app.router.add_post("/slack/events", events)
app.router.add_get("/readyz", ready)
web.run_app(app, host="127.0.0.1", port=port, print=None)
"""


# -- start-up ------------------------------------------------------------------------------


class _Herald201(BaseHTTPRequestHandler):
    """Answers every authorised POST as Herald's ingest API does: 201 and the release."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"error": "missing or wrong bearer token"})
            return
        event = body.get("event", "release.planned")
        release = {"id": body.get("id") or self.path.split("/")[4], "state": "deployed"}
        self._answer(201, {"created": True, "release": release, "event": {"event": event}})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def ingest_stub() -> Iterator[str]:
    """The stub on a loopback port, served by a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Herald201)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def herald_command(python: str) -> list[str]:
    """The `herald` console script next to `python` (what CI runs), else `python -m bot`."""
    script = Path(python).with_name("herald")
    return [str(script)] if script.exists() else [python, "-m", "bot"]


def commands(manifest: Path, herald: list[str]) -> dict[str, list[str]]:
    release_id = str(example_manifest()["id"])
    return {
        **FLOORS,
        "herald --help": [*herald, "--help"],
        "herald emit manifest": [*herald, "emit", "manifest", str(manifest)],
        "herald emit event": [*herald, "emit", "event", release_id, "deployed"],
    }


def time_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or ("emit" in command and "recorded" not in done.stdout):
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def time_commands(n: int, herald: list[str]) -> dict[str, dict[str, float]]:
    """Every command N times, interleaved (one of each per round, the order rotating)."""
    with tempfile.TemporaryDirectory(prefix="herald-startup-") as tmp, ingest_stub() as url:
        manifest = Path(tmp) / "release-manifest.json"
        manifest.write_text(json.dumps(example_manifest()))
        env = {**os.environ, "HERALD_URL": url, "HERALD_INGEST_TOKEN": TOKEN}
        todo = commands(manifest, herald)
        samples: dict[str, list[float]] = {name: [] for name in todo}
        names = list(todo)
        for round_ in range(n):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                samples[name].append(time_once(todo[name], env))
    return {name: _summary(values) for name, values in samples.items()}


def _summary(seconds: list[float]) -> dict[str, float]:
    values = sorted(s * 1000 for s in seconds)
    return {"p50_ms": percentile(values, 50), "p90_ms": percentile(values, 90)}


# -- idle memory ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def write_catalog(path: Path) -> None:
    """The catalogue operators start from: services.yaml of the example ConfigMap."""
    for document in yaml.safe_load_all(CONFIGMAP.read_text()):
        if document["metadata"]["name"] == "herald-services":
            path.write_text(document["data"]["services.yaml"])
            return
    raise RuntimeError(f"no herald-services ConfigMap in {CONFIGMAP}")


async def herald_idle_rss(idle: float, python: str) -> dict[str, float]:
    """Herald's VmRSS on a new database (its first start: it migrates) and restarted on the
    same one (every later start)."""
    with tempfile.TemporaryDirectory(prefix="herald-rss-") as tmp:
        async with FakeSlack() as slack, FakeArgoCD() as argocd:
            argocd.add_app("webapp-prod", revision="a1b2c3d")
            argocd.add_app("webapp-staging", revision="a1b2c3d")
            catalog = Path(tmp) / "services.yaml"
            write_catalog(catalog)
            database = Path(tmp) / "herald.db"
            herald = HeraldServer(slack=slack, database=database, command=(python, "-m", "bot"))
            herald.env.update(
                HERALD_CONFIG=str(catalog), ARGOCD_URL=argocd.url, ARGOCD_TOKEN=argocd.token
            )
            herald.env.pop("HERALD_DELIVERY_POLL_SECONDS")  # production's poll
            if "PYTHONPATH" in os.environ:  # measuring another checkout of Herald
                herald.env["PYTHONPATH"] = os.environ["PYTHONPATH"]
            return {
                "first_start": await _idle_rss(herald, idle),
                "restart": await _idle_rss(herald, idle),
            }


async def _idle_rss(herald: HeraldServer, idle: float) -> float:
    await herald.start(within=60)
    try:
        await asyncio.sleep(idle)
        assert herald.process is not None
        return rss_mb(herald.process.pid)
    finally:
        await herald.stop()


async def bare_bolt_idle_rss(idle: float) -> float:
    async with FakeSlack() as slack:
        port = free_port()
        args = [BARE_BOLT, str(port), slack.api_url, slack.token]
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", *args)
        try:
            async with aiohttp.ClientSession() as session:

                async def ready() -> bool:
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                            return response.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                await eventually(ready, timeout=60, interval=0.05, what="bare Bolt to answer")
            await asyncio.sleep(idle)
            return rss_mb(process.pid)
        finally:
            process.terminate()
            await process.wait()


# -- the report ----------------------------------------------------------------------------


async def run(
    runs: int = 3, n: int = 10, *, idle: float = 2.0, python: str = sys.executable, tag: str = ""
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for index in range(runs):
        timings = await asyncio.to_thread(time_commands, n, herald_command(python))
        memory = {**await herald_idle_rss(idle, python), "bolt": await bare_bolt_idle_rss(idle)}
        results.append({"run": index + 1, "startup": timings, "rss_mb": memory})
        print(f"run {index + 1}/{runs} done", flush=True)
    print_tables(results, n=n)
    worst_ms = max(
        r["startup"][name]["p50_ms"] for r in results for name in r["startup"] if "herald" in name
    )
    worst_mb = max(r["rss_mb"][start] for r in results for start in ("first_start", "restart"))
    goals = {
        "startup_p50_ms_worst": round(worst_ms, 1),
        "startup_ok": worst_ms < STARTUP_GOAL_MS,
        "rss_mb_worst": round(worst_mb, 1),
        "rss_ok": worst_mb < RSS_GOAL_MB,
    }
    print(f"\ngoals: {goals}")
    data = {"n": n, "idle_s": idle, "herald_python": python, "runs": results, "goals": goals}
    data["ok"] = goals["startup_ok"] and goals["rss_ok"]
    print(f"results: {write_results('startup' + tag, data)}")
    return data


def print_tables(results: list[dict[str, Any]], *, n: int) -> None:
    rows: list[list[object]] = []
    for result in results:
        startup = result["startup"]
        bare, with_aiohttp = (startup[name]["p50_ms"] for name in FLOORS)
        for name, figures in startup.items():
            p50 = figures["p50_ms"]
            rows.append(
                [result["run"], name, p50, figures["p90_ms"], p50 / bare, p50 / with_aiohttp]
            )
    print(f"\nStart-up wall time, {n} runs of each command per run, interleaved")
    print(table(["run", "command", "p50 ms", "p90 ms", "×pass", "×aiohttp"], rows))
    memory = []
    for result in results:
        first, again, bolt = (result["rss_mb"][k] for k in ("first_start", "restart", "bolt"))
        memory.append([result["run"], first, first / bolt, again, again / bolt, bolt])
    print("\nIdle VmRSS of herald serve (MB) once /readyz answers and it has idled")
    headers = ["run", "new database", "×floor", "restarted", "×floor", "bare Bolt (floor)"]
    print(table(headers, memory))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=10, help="runs of each command per run")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before VmRSS")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="run herald with this interpreter, e.g. a production install's (uv sync --no-dev)",
    )
    parser.add_argument("--tag", default="", help="suffix of the results file, e.g. -prod")
    args = parser.parse_args(argv)
    data = await run(args.runs, args.n, idle=args.idle, python=args.python, tag=args.tag)
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
