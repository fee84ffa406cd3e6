"""A bare webhook receiver on loopback: it answers 200 to every POST and records each body
with the moment it arrived, so a test can see what Alertmanager sent and when."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standins.server import LoopbackServer
from tests.waiting import eventually

__all__ = ["Delivery", "WebhookReceiver"]

PATH = "/hooks/alertmanager"


@dataclass(frozen=True)
class Delivery:
    """One POST: its JSON body, its headers, and ``time.monotonic()`` when it arrived."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    at: float

    @property
    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.body.get("alerts", [])
        return alerts


class WebhookReceiver(LoopbackServer):
    """``async with WebhookReceiver() as receiver:`` takes POSTs at ``receiver.url``."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    @property
    def url(self) -> str:
        return super().url + PATH

    def first_alert(self, status: str, **labels: str) -> tuple[Delivery, dict[str, Any]] | None:
        """The first delivered alert with ``status`` whose labels include ``labels``."""
        for delivery in self.deliveries:
            for alert in delivery.alerts:
                if alert.get("status") == status and labels.items() <= alert["labels"].items():
                    return delivery, alert
        return None

    async def wait_for_alert(
        self,
        status: str,
        *,
        timeout: float,  # noqa: ASYNC109  (a deadline the failure names, not a cancel)
        **labels: str,
    ) -> tuple[Delivery, dict[str, Any]]:
        """The first alert ``first_alert(status, **labels)`` finds, within ``timeout`` s."""
        await eventually(
            lambda: self.first_alert(status, **labels) is not None,
            timeout=timeout,
            interval=0.05,
            what=f"a {status} alert with {labels} at the webhook receiver",
        )
        found = self.first_alert(status, **labels)
        assert found is not None
        return found

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH, self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        body = await request.json()
        self.deliveries.append(Delivery(body=body, headers=dict(request.headers), at=at))
        return web.Response(text="ok")
