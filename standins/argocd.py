"""A fake Argo CD API server over real HTTP, for tests and ``herald demo``.

It serves the few ApplicationService routes Herald uses (paths and bodies as in Argo CD's
swagger) for Applications that may manage a canary Argo Rollout; resource actions change
the Rollout the way the built-in Lua actions and the Rollouts controller would (see
``standins.argocd_rollout``). Errors are gRPC-gateway JSON. ``version`` decides the
action set: ``pause`` and ``skip-current-step`` and ``/resource/actions/v2`` need v3.1+.
Faults: delays, HTTP errors with gRPC bodies, a dropped-connection outage, and a held
operation. ``listeners`` hear of every call once answered, so a test can play the cluster
(a rollback that lands makes the service healthy again). Depends only on aiohttp and the
standard library.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standins.argocd_app import FakeApp
from standins.argocd_rollout import V31_ACTIONS, FakeRollout
from standins.argocd_wire import ArgoCall, ArgoError
from standins.server import LoopbackServer

__all__ = ["ArgoCall", "FakeApp", "FakeArgoCD", "FakeRollout"]

CONTROL_PLANE_NS = "argocd"
APPS = "/api/v1/applications"
_FAULTS = {  # HTTP status -> (gRPC code, message) of an injected failure
    500: (13, "internal error"),
    502: (14, "upstream connect error or disconnect/reset before headers"),
    503: (14, "the server is currently unable to handle the request"),
    504: (4, "context deadline exceeded"),
}
_NO_LUA_ACTION = "error executing Lua resource action: expect table output from Lua script, not nil"


@dataclass
class _Request:
    name: str  # the Application name from the path ("" for /api/version)
    query: dict[str, str]
    body: Any


Handler = Callable[[_Request], dict[str, Any]]


def parse_version(version: str) -> tuple[int, int, int]:
    """``"v3.1.8+abc"`` → ``(3, 1, 8)``."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise ValueError(f"not an Argo CD version: {version!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


class FakeArgoCD(LoopbackServer):
    """Argo CD's REST API for a few Applications, on ``http://127.0.0.1:<ephemeral port>``.

    Faults count down per request, whatever the route: a pending delay is served first,
    then a pending failure answers instead of the route; while down, every connection is
    closed without an answer.
    """

    def __init__(self, *, token: str = "argocd-test-token", version: str = "v3.1.8") -> None:
        self.token = token
        self.version = version if "+" in version else f"{version}+8f1e3c2"
        self.calls: list[ArgoCall] = []
        self.listeners: list[Callable[[ArgoCall], None]] = []  # told of each call, in order
        self._apps: dict[tuple[str, str], FakeApp] = {}  # (app namespace, name) -> app
        self._slow: list[float] = [0.0, 0]  # [seconds, times]
        self.holding = 0  # requests slow_next is holding right now
        self._fail: list[int] = [503, 0]  # [status, times]
        self._down = False
        self._closing = asyncio.Event()
        self._routes: list[tuple[str, str]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        self._routes = []
        for method, path, handler in self._table():
            app.router.add_route(method, path, self._wrap(handler))
            self._routes.append((method, path))
        app.router.add_route("*", "/{tail:.*}", self._wrap(None))
        return app

    async def close(self) -> None:
        self._closing.set()  # wakes slowed handlers
        await super().close()

    @property
    def v31(self) -> bool:
        return parse_version(self.version)[:2] >= (3, 1)

    def routes(self) -> list[tuple[str, str]]:
        """(HTTP method, swagger path template) of every route served (after start)."""
        return list(self._routes)

    # -- state -----------------------------------------------------------------------------

    def add_app(
        self,
        name: str,
        *,
        project: str = "default",
        namespace: str = CONTROL_PLANE_NS,
        revision: str,
        history: Sequence[tuple[int, str]] = (),
        auto_sync: bool = True,
        self_heal: bool = False,
        health: str = "Healthy",
        sync: str = "Synced",
        repo_url: str = "https://github.com/acme/webapp",
        rollout: FakeRollout | None = None,
    ) -> FakeApp:
        if (namespace, name) in self._apps:
            raise ValueError(f"app {namespace}/{name} already exists")
        app = FakeApp(
            name,
            project=project,
            namespace=namespace,
            revision=revision,
            history=history,
            auto_sync=auto_sync,
            self_heal=self_heal,
            health=health,
            sync=sync,
            repo_url=repo_url,
            rollout=rollout,
        )
        self._apps[(namespace, name)] = app
        return app

    def app(self, name: str) -> FakeApp:
        matches = [a for (_, n), a in self._apps.items() if n == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} apps named {name!r}")
        return matches[0]

    # -- fault injection -------------------------------------------------------------------

    def slow_next(self, seconds: float, times: int = 1) -> None:
        self._slow = [seconds, times]

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        self._fail = [status, times]

    def set_down(self, down: bool) -> None:
        self._down = down

    def hold_operation(self, app: str) -> None:
        self.app(app).hold_operation()

    @staticmethod
    def _take(fault: list[Any]) -> Any:
        if fault[1] <= 0:
            return None
        fault[1] -= 1
        return fault[0]

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _table(self) -> list[tuple[str, str, Handler]]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/api/version", self._version),
            ("GET", APPS + "/{name}", lambda r: self._find(r).to_json()),
            ("PATCH", APPS + "/{name}", self._patch),
            (
                "GET",
                APPS + "/{applicationName}/resource-tree",
                lambda r: self._find(r).resource_tree(),
            ),
            ("GET", APPS + "/{name}/resource", self._resource),
            ("GET", APPS + "/{name}/resource/actions", self._list_actions),
            ("POST", APPS + "/{name}/resource/actions", self._run_v1),
            ("POST", APPS + "/{name}/rollback", self._rollback),
            ("DELETE", APPS + "/{name}/operation", self._terminate),
        ]
        if self.v31:
            table.append(("POST", APPS + "/{name}/resource/actions/v2", self._run_v2))
        return table

    def _wrap(self, handler: Handler | None) -> Callable[[web.Request], Any]:
        async def route(request: web.Request) -> web.StreamResponse:
            at, query = time.monotonic(), dict(request.query)
            body, parse_error = await _read_json(request)
            status, answer = await self._answer(request, handler, query, body, parse_error)
            call = ArgoCall(request.method, request.path, query, body, at, status, answer)
            self.calls.append(call)
            for listener in self.listeners:
                listener(call)
            if status == 0 and request.transport is not None:
                request.transport.close()  # no HTTP answer at all
            return web.json_response(answer, status=status or 503)

        return route

    async def _answer(
        self,
        request: web.Request,
        handler: Handler | None,
        query: dict[str, str],
        body: Any,
        parse_error: str | None,
    ) -> tuple[int, dict[str, Any]]:
        if self._down:
            return 0, {}
        if (delay := self._take(self._slow)) is not None:
            self.holding += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            self.holding -= 1
            if self._closing.is_set():
                return 0, {}
        if (status := self._take(self._fail)) is not None:
            code, message = _FAULTS.get(status, (2, f"injected failure {status}"))
            return status, ArgoError(status, code, message).body()
        try:
            if handler is None:
                raise ArgoError(404, 5, "Not Found")
            if parse_error is not None:
                raise ArgoError.invalid(parse_error)
            self._authenticate(request)
            name = request.match_info.get("name") or request.match_info.get("applicationName", "")
            return 200, handler(_Request(name, query, body))
        except ArgoError as e:
            return e.status, e.body()

    def _authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else request.cookies.get("argocd.token")
        if not token:
            raise ArgoError(401, 16, "no session information")
        if token != self.token:
            raise ArgoError(401, 16, "invalid session: token signature is invalid")

    # -- ApplicationService ----------------------------------------------------------------

    def _find(self, req: _Request, args: dict[str, Any] | None = None) -> FakeApp:
        """Argo CD's lookup: 403 for a missing app unless `project` is given, then 404."""
        args = req.query if args is None else args
        project = str(args.get("project") or "")
        app = self._apps.get((str(args.get("appNamespace") or CONTROL_PLANE_NS), req.name))
        if app is None or (project and app.project != project):
            if not project:
                raise ArgoError.denied()
            raise ArgoError.not_found(f'applications.argoproj.io "{req.name}" not found')
        return app

    def _version(self, req: _Request) -> dict[str, Any]:
        return {
            "Version": self.version,
            "BuildDate": "2025-09-01T10:00:00Z",
            "GitCommit": "8f1e3c2a9d7b4e6f0c1a2b3d4e5f6a7b8c9d0e1f",
            "GitTag": self.version.split("+")[0],
            "GitTreeState": "clean",
            "GoVersion": "go1.24.6",
            "Compiler": "gc",
            "Platform": "linux/amd64",
            "KustomizeVersion": "v5.7.0",
            "HelmVersion": "v3.18.4",
            "KubectlVersion": "v0.33.1",
            "JsonnetVersion": "v0.21.0",
        }

    def _patch(self, req: _Request) -> dict[str, Any]:
        body = _object(req.body, "ApplicationPatchRequest")
        app = self._find(req, body)
        app.apply_patch(str(body.get("patch", "")), str(body.get("patchType", "")))
        return app.to_json()

    def _resource(self, req: _Request) -> dict[str, Any]:
        rollout = self._find(req).live_rollout(req.query)
        return {"manifest": json.dumps(rollout.manifest())}

    def _list_actions(self, req: _Request) -> dict[str, Any]:
        return {"actions": self._find(req).live_rollout(req.query).actions(v31=self.v31)}

    def _run_v1(self, req: _Request) -> dict[str, Any]:
        if not isinstance(req.body, str):
            raise ArgoError.invalid("json: cannot unmarshal into Go value of type string")
        return self._run(self._find(req), req.query, req.body)

    def _run_v2(self, req: _Request) -> dict[str, Any]:
        body = _object(req.body, "ResourceActionRunRequestV2")
        resource = {k: str(v) for k, v in body.items() if isinstance(v, str)}
        return self._run(self._find(req, body), resource, str(body.get("action", "")))

    def _run(self, app: FakeApp, resource: dict[str, str], action: str) -> dict[str, Any]:
        rollout = app.live_rollout(resource)
        known = {a["name"] for a in rollout.actions(v31=self.v31)}
        if action not in known or (action in V31_ACTIONS and not self.v31):
            raise ArgoError(500, 2, _NO_LUA_ACTION)  # Argo CD finds no action.lua to run
        rollout.apply(action)
        return {}

    def _rollback(self, req: _Request) -> dict[str, Any]:
        body = _object(req.body, "ApplicationRollbackRequest")
        app = self._find(req, body)
        raw_id = body.get("id", 0)
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            raise ArgoError.invalid("invalid value for int64 field id")
        try:
            history_id = int(raw_id)
        except ValueError:
            raise ArgoError.invalid(f"invalid value for int64 field id: {raw_id!r}") from None
        app.rollback(history_id, dry_run=bool(body.get("dryRun")), prune=bool(body.get("prune")))
        return app.to_json()

    def _terminate(self, req: _Request) -> dict[str, Any]:
        self._find(req).terminate_operation()
        return {}


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ArgoError.invalid(f"{what}: the body must be a JSON object")
    return body


async def _read_json(request: web.Request) -> tuple[Any, str | None]:
    if not request.body_exists:
        return None, None
    raw = await request.text()
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as e:
        return None, f"invalid JSON body: {e}"
