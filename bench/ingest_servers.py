"""The servers of the ingest benchmark, each run in its own process by bench/processes.py.

herald  Herald as `herald serve` builds it (`build_server` from Settings, the catalog read
        from its YAML file at HERALD_CONFIG, the outbox worker running, delivery poll 1 s
        as in production) on `config["database_url"]`: a fresh SQLite file, or one
        PostgreSQL database shared by every replica. The events are dated 2025, so every
        checkup would fall due at once and its reports share the measured channels: the
        checkup clock ticks at start (nothing is due yet) and not again within a run.
floor   a bare aiohttp app taking the same POSTs: the bearer token checked, the JSON body
        parsed, one INSERT and its commit per request (SQLite through sqlite3 in WAL mode
        with synchronous=NORMAL, or PostgreSQL through psycopg, autocommit, a pool of as
        many connections as Herald's), then 201, or 200 for a repeat, as Herald answers.
        What this machine can do with one durable write per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.harness import FIRST_TICK
from bench.processes import INGEST_TOKEN, Reply, Stats, herald_settings

POOL = 10  # Herald's PostgreSQL pool size (bot/store/database.py)
TABLE = "floor_events"
Write = Callable[[str, str, str], Awaitable[bool]]  # (release id, event, body) → inserted


async def start_ingest_server(
    stack: contextlib.AsyncExitStack, role: str, config: dict[str, Any]
) -> tuple[Reply, Stats]:
    """`herald-N` or `floor-N` (see the module's docstring), served on a loopback port."""
    herald = role.startswith("herald")  # herald-0, herald-1, ...
    sqlite = config["database_url"].startswith("sqlite")
    if herald:
        app = _herald_app(config)
    elif sqlite:
        app = floor_app(await _sqlite_writer(stack, config))
    else:
        app = floor_app(await _postgres_writer(stack, config))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    if herald:
        await asyncio.sleep(FIRST_TICK)  # the checkup clock's first tick, at start, is over
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return {"url": f"http://{host}:{port}"}, dict


def _herald_app(config: dict[str, Any]) -> web.Application:
    from bot.serving.server import build_server

    settings = herald_settings(
        config,
        database_url=config["database_url"],
        config_path=Path(config["catalog"]),
        delivery_poll_seconds=1.0,
        checkup_interval_seconds=300,
        workers=config.get("workers", 0),
    )
    return build_server(settings)


def floor_app(write: Write) -> web.Application:
    """POST /api/v1/releases and /api/v1/releases/{id}/events, one durable write each."""

    async def accept(request: web.Request, release_id: str | None) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {INGEST_TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body: not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body: not an object"}, status=400)
        rid = str(release_id or body.get("id"))
        event = "release.planned" if release_id is None else str(body.get("event"))
        created = await write(rid, event, json.dumps(body))
        return web.json_response({"id": rid, "event": event}, status=201 if created else 200)

    async def release(request: web.Request) -> web.Response:
        return await accept(request, None)

    async def event(request: web.Request) -> web.Response:
        return await accept(request, request.match_info["release_id"])

    app = web.Application()
    app.router.add_post("/api/v1/releases", release)
    app.router.add_post("/api/v1/releases/{release_id}/events", event)
    return app


CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (release_id TEXT NOT NULL, event TEXT NOT NULL, "
CREATE += "body TEXT NOT NULL, PRIMARY KEY (release_id, event))"


async def _sqlite_writer(stack: contextlib.AsyncExitStack, config: dict[str, Any]) -> Write:
    path = config["database_url"].removeprefix("sqlite:///")
    db = sqlite3.connect(path)
    stack.callback(db.close)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(CREATE)
    db.commit()
    insert = f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?, ?)"

    async def write(release_id: str, event: str, body: str) -> bool:
        inserted = db.execute(insert, (release_id, event, body)).rowcount == 1
        db.commit()
        return inserted

    return write


async def _postgres_writer(stack: contextlib.AsyncExitStack, config: dict[str, Any]) -> Write:
    import psycopg

    url = config["database_url"].replace("postgresql+psycopg://", "postgresql://", 1)
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(POOL):
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        stack.push_async_callback(conn.close)
        pool.put_nowait(conn)
    first = pool.get_nowait()
    await first.execute(CREATE)
    pool.put_nowait(first)
    insert = f"INSERT INTO {TABLE} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"

    async def write(release_id: str, event: str, body: str) -> bool:
        conn = await pool.get()
        try:
            cursor = await conn.execute(insert, (release_id, event, body))
            return cursor.rowcount == 1
        finally:
            pool.put_nowait(conn)

    return write
