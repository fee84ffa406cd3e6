"""``ArgoCDClient``: the Argo CD ApplicationService calls Herald makes, and their audit log.

Requests go through ``bot.integrations.http`` (one log line per failed call); every write also
logs its action, app, user and outcome. The token only ever goes into the Authorization header.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.domain.deploy.tool import (
    AppStatus,
    DeployFailure,
    DeployTarget,
    DeployToolError,
    RolloutAction,
    RolloutRef,
    RolloutStatus,
)
from bot.errors import IntegrationError
from bot.integrations.argocd.errors import Call, explain_failure
from bot.integrations.argocd.parse import parse_app, parse_rollout
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService

__all__ = ["ArgoCDClient"]

log = logging.getLogger(__name__)

ROLLOUT_KIND = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}
_NO_BODY: Any = object()


class ArgoCDClient:
    """Implements ``DeployTool`` against one Argo CD API server (v2.8+; v3.1+ for v2 actions)."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._http = HttpService(
            session=session,
            service="Argo CD",
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout_seconds=timeout_seconds,
        )
        self._version: tuple[int, int] | None = None
        self._rollouts: dict[DeployTarget, RolloutRef] = {}
        self._automated: dict[DeployTarget, dict[str, Any]] = {}  # policy before disabling

    def __repr__(self) -> str:
        return f"ArgoCDClient(base_url={self._http.base_url!r})"  # never the token

    async def server_version(self) -> tuple[int, int]:
        """(major, minor) from ``GET /api/version`` (``"v3.1.8+abc"`` → ``(3, 1)``), cached."""
        if self._version is None:
            data = await self._request("GET", "/api/version", Call("read the version of"))
            match = re.match(r"v?(\d+)\.(\d+)", str(data.get("Version", "")))
            self._version = (int(match[1]), int(match[2])) if match else (0, 0)
        return self._version

    # -- DeployTool ------------------------------------------------------------------------

    async def get_app(self, target: DeployTarget) -> AppStatus:
        return parse_app(await self._app_json(target))

    async def get_rollout(self, target: DeployTarget) -> RolloutStatus:
        ref = await self._rollout_ref(target)
        data = await self._request(
            "GET",
            self._app_path(target, "/resource"),
            Call("read the Rollout of", target.app),
            params=self._resource_params(target, ref),
        )
        try:
            manifest = json.loads(str(data.get("manifest", "")))
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict):
            raise DeployToolError(
                DeployFailure.INVALID,
                f"Argo CD returned an unreadable manifest for Rollout {ref.namespace}/{ref.name}.",
            )
        return parse_rollout(manifest)

    async def list_actions(self, target: DeployTarget) -> dict[str, bool]:
        ref = await self._rollout_ref(target)
        data = await self._request(
            "GET",
            self._app_path(target, "/resource/actions"),
            Call("list the Rollout actions of", target.app),
            params=self._resource_params(target, ref),
        )
        actions = data.get("actions") or []
        return {
            str(a["name"]): not a.get("disabled", False)
            for a in actions
            if isinstance(a, dict) and "name" in a
        }

    async def run_action(self, target: DeployTarget, action: RolloutAction, *, actor: str) -> None:
        with _audited(action.value, target, actor):
            ref = await self._rollout_ref(target)
            call = Call(f"run `{action.value}` on", target.app, writes=True, action=action.value)
            if await self.server_version() >= (3, 1):
                body = {
                    "name": target.app,
                    "namespace": ref.namespace,
                    "resourceName": ref.name,
                    **ROLLOUT_KIND,
                    "action": action.value,
                    **self._scope(target),
                }
                path = self._app_path(target, "/resource/actions/v2")
                await self._request("POST", path, call, body=body)
            else:  # v1: the body is the action name as a JSON string
                path = self._app_path(target, "/resource/actions")
                params = self._resource_params(target, ref)
                await self._request("POST", path, call, params=params, body=action.value)

    async def rollback(self, target: DeployTarget, *, history_id: int, requested_by: str) -> None:
        # The Rollback API takes no `infos`: Argo CD records only Herald's own account.
        body = {"name": target.app, "id": history_id, "dryRun": False, "prune": False}
        with _audited("rollback", target, requested_by, history_id=history_id):
            await self._request(
                "POST",
                self._app_path(target, "/rollback"),
                Call("roll back", target.app, writes=True),
                body={**body, **self._scope(target)},
            )

    async def set_auto_sync(self, target: DeployTarget, *, enabled: bool, actor: str) -> None:
        """Idempotent; turning it back on restores the automated policy this client removed."""
        with _audited("auto-sync on" if enabled else "auto-sync off", target, actor) as outcome:
            spec = (await self._app_json(target)).get("spec") or {}
            automated = (spec.get("syncPolicy") or {}).get("automated")
            if (automated is not None and automated.get("enabled") is not False) == enabled:
                outcome.value = "unchanged"
                return
            if not enabled:
                self._automated[target] = dict(automated or {})
                new: dict[str, Any] | None = None
            elif automated is not None:  # present but `enabled: false` (Argo CD 3.x)
                new = {"enabled": True}
            else:
                new = self._automated.pop(target, {})
            patch = {"spec": {"syncPolicy": {"automated": new}}}
            body = {"name": target.app, "patch": json.dumps(patch), "patchType": "merge"}
            verb = "turn on auto-sync of" if enabled else "turn off auto-sync of"
            await self._request(
                "PATCH",
                self._app_path(target, ""),
                Call(verb, target.app, writes=True),
                body={**body, **self._scope(target)},
            )

    async def terminate_operation(self, target: DeployTarget, *, actor: str) -> None:
        with _audited("terminate", target, actor):
            await self._request(
                "DELETE",
                self._app_path(target, "/operation"),
                Call("terminate the operation of", target.app, writes=True),
                params=self._scope(target),
            )

    # -- helpers ---------------------------------------------------------------------------

    async def _app_json(self, target: DeployTarget) -> dict[str, Any]:
        path, call = self._app_path(target, ""), Call("read", target.app)
        return await self._request("GET", path, call, params=self._scope(target))

    async def _rollout_ref(self, target: DeployTarget) -> RolloutRef:
        """The Rollout named in the target, else the one Rollout in the app's resource tree."""
        if target.rollout is not None:
            return target.rollout
        if (known := self._rollouts.get(target)) is not None:
            return known
        tree = await self._request(
            "GET",
            self._app_path(target, "/resource-tree"),
            Call("read the resources of", target.app),
            params=self._scope(target),
        )
        refs = [
            RolloutRef(str(n.get("name")), str(n.get("namespace") or ""))
            for n in tree.get("nodes") or []
            if n.get("kind") == "Rollout" and n.get("group") == "argoproj.io"
        ]
        if len(refs) != 1:
            names = ", ".join(f"{r.namespace}/{r.name}" for r in refs)
            raise DeployToolError(
                DeployFailure.NOT_FOUND if not refs else DeployFailure.INVALID,
                f"Argo CD app {target.app} manages no Argo Rollout."
                if not refs
                else f"Argo CD app {target.app} manages {len(refs)} Rollouts ({names}); "
                "name the one Herald should use in the service catalog.",
            )
        self._rollouts[target] = refs[0]
        return refs[0]

    @staticmethod
    def _scope(target: DeployTarget) -> dict[str, str]:
        scope = {"appNamespace": target.app_namespace, "project": target.project}
        return {k: v for k, v in scope.items() if v}

    def _resource_params(self, target: DeployTarget, ref: RolloutRef) -> dict[str, str]:
        return {
            "namespace": ref.namespace,
            "resourceName": ref.name,
            **ROLLOUT_KIND,
            **self._scope(target),
        }

    @staticmethod
    def _app_path(target: DeployTarget, suffix: str) -> str:
        return f"/api/v1/applications/{quote(target.app, safe='')}{suffix}"

    async def _request(
        self,
        method: str,
        path: str,
        call: Call,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = _NO_BODY,
    ) -> dict[str, Any]:
        headers, data = {}, None
        if body is not _NO_BODY:
            headers, data = {"Content-Type": "application/json"}, json.dumps(body)
        try:
            answer = await self._http.request(
                method, path, params=params, data=data, headers=headers, changes=call.writes
            )
        except ErrorAnswer as e:
            answer = e.answer
        except IntegrationError as e:  # no answer: the sentence says whether anything changed
            kind = DeployFailure.TIMEOUT if e.extra.get("error") == TIMEOUT else None
            raise DeployToolError(kind or DeployFailure.UNAVAILABLE, e.message) from e
        try:
            payload = json.loads(answer.body) if answer.body else {}
        except ValueError:
            payload = None
        if 200 <= answer.status < 300 and isinstance(payload, dict):
            return payload
        raise explain_failure(answer.status, payload, call, self._version)


@dataclass
class _Outcome:
    value: str = "done"


@contextmanager
def _audited(action: str, target: DeployTarget, user: str, **fields: object) -> Iterator[_Outcome]:
    """One line per write: INFO with its outcome, or WARNING with why it failed."""
    outcome, extra = _Outcome(), {"action": action, "app": target.app, "user": user, **fields}
    try:
        yield outcome
    except DeployToolError as e:
        extra["outcome"] = e.kind.value
        log.warning(
            "Argo CD %s of %s by %s failed: %s", action, target.app, user, e.kind, extra=extra
        )
        raise
    except Exception:
        extra["outcome"] = "error"
        log.error("Argo CD %s of %s by %s failed", action, target.app, user, extra=extra)
        raise
    extra["outcome"] = outcome.value
    log.info("Argo CD %s of %s by %s: %s", action, target.app, user, outcome.value, extra=extra)
