"""Socket Mode for the Slack stand-in: `apps.connections.open` and the WebSocket it hands out."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web


class SocketModeServer:
    """Accepts Socket Mode connections, sends envelopes, and collects the app's acks."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[dict[str, Any]] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets),
            "connection_info": {"app_id": "A0HERALD"},
            "debug_info": {"host": "fake"},
        }
        await ws.send_json(hello)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._take_ack(json.loads(message.data))
        finally:
            self.sockets.remove(ws)
        return ws

    def _take_ack(self, ack: dict[str, Any]) -> None:
        self.acks.append(ack)
        future = self._waiting.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    async def send(
        self, kind: str, payload: dict[str, Any], *, wait_seconds: float = 5.0
    ) -> dict[str, Any]:
        """Deliver one envelope (e.g. `slash_commands`) and return the app's ack."""
        for _ in range(int(wait_seconds / 0.01)):
            if self.sockets:
                break
            await asyncio.sleep(0.01)
        if not self.sockets:
            raise AssertionError("no Socket Mode connection to send to")
        envelope_id = f"env-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
        }
        await self.sockets[-1].send_json(envelope)
        return await asyncio.wait_for(future, wait_seconds)

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
