"""`/readyz` of `herald serve --workers N`: not ready while no worker process is up, since
what it records would not be carried out; ready again once one is (the end-to-end tests in
tests/scenarios/deploy/killed/test_workers.py start on a ready server with one worker)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.api.system import WORKERS
from bot.app import build_app
from bot.catalog import Catalog
from bot.serving.supervisor import Supervisor
from tests.conftest import SettingsFactory


class Counted:
    """Worker processes as a supervisor counts them."""

    def __init__(self, live: int) -> None:
        self.live = live


async def ready(app: web.Application) -> tuple[int, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/readyz") as response,
        ):
            return response.status, await response.text()
    finally:
        await runner.cleanup()


async def test_a_server_whose_workers_are_not_up_is_not_ready(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(workers=1)
    app = build_app(settings, deliver=False)
    app[WORKERS] = Supervisor(settings=settings, catalog=Catalog(), count=1)  # none started
    status, body = await ready(app)
    assert status == 503
    assert "no worker process is up" in body


async def test_a_server_with_a_worker_up_is_ready(make_settings: SettingsFactory) -> None:
    app = build_app(make_settings(workers=1), deliver=False)
    app[WORKERS] = Counted(live=1)
    assert (await ready(app))[0] == 200
    app = build_app(make_settings(workers=1), deliver=False)
    app[WORKERS] = Counted(live=0)
    assert (await ready(app))[0] == 503
