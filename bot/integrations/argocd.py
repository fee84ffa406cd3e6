"""Argo CD (and the Argo Rollouts it manages) over Argo CD's REST API: Herald's `DeployTool`.

A thin async client: a handful of ApplicationService calls, answers turned into the plain
types of ``bot.domain.deploy.tool`` and every failure into a ``DeployToolError`` whose message
a user can act on. Requests go through ``bot.integrations.http`` (one log line per failed
call); every write also logs its action, app, user and outcome. The token only ever goes
into the Authorization header.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.domain.deploy.tool import (
    AppStatus,
    CanaryStep,
    DeployFailure,
    DeployTarget,
    DeployToolError,
    HistoryEntry,
    RolloutAction,
    RolloutRef,
    RolloutStatus,
)
from bot.errors import IntegrationError
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService

__all__ = ["ArgoCDClient", "parse_app", "parse_rollout"]

log = logging.getLogger(__name__)

ROLLOUT_KIND = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}
V31_ACTIONS = frozenset({RolloutAction.PAUSE, RolloutAction.SKIP_CURRENT_STEP})
_NO_BODY: Any = object()


@dataclass(frozen=True)
class _Call:
    """What a request was for, to word its failure."""

    what: str  # "read", "roll back", "run `resume` on", ...
    app: str | None = None
    writes: bool = False
    action: str | None = None


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
            data = await self._request("GET", "/api/version", _Call("read the version of"))
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
            _Call("read the Rollout of", target.app),
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
            _Call("list the Rollout actions of", target.app),
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
            call = _Call(f"run `{action.value}` on", target.app, writes=True, action=action.value)
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
                _Call("roll back", target.app, writes=True),
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
                _Call(verb, target.app, writes=True),
                body={**body, **self._scope(target)},
            )

    async def terminate_operation(self, target: DeployTarget, *, actor: str) -> None:
        with _audited("terminate", target, actor):
            await self._request(
                "DELETE",
                self._app_path(target, "/operation"),
                _Call("terminate the operation of", target.app, writes=True),
                params=self._scope(target),
            )

    # -- helpers ---------------------------------------------------------------------------

    async def _app_json(self, target: DeployTarget) -> dict[str, Any]:
        path, call = self._app_path(target, ""), _Call("read", target.app)
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
            _Call("read the resources of", target.app),
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
        call: _Call,
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
        raise _failure(answer.status, payload, call, self._version)


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


def _failure(
    status: int, payload: Any, call: _Call, version: tuple[int, int] | None
) -> DeployToolError:
    body = payload if isinstance(payload, dict) else {}
    message = str(body.get("message") or body.get("error") or "").strip()
    app = f"Argo CD app {call.app}" if call.app else "Argo CD"
    said = f": {message}" if message else ""
    if status == 401:
        return DeployToolError(
            DeployFailure.DENIED,
            f"Argo CD rejected Herald's token (ARGOCD_TOKEN){said}. "
            "Ask an Argo CD admin for a new API token.",
        )
    if "another operation is already in progress" in message:
        return DeployToolError(
            DeployFailure.IN_PROGRESS,
            f"{app} is already running an operation (a sync or rollback); wait for it to "
            "finish or terminate it, then try again. Nothing was changed.",
        )
    if "auto-sync is enabled" in message:
        return DeployToolError(
            DeployFailure.AUTO_SYNC,
            f"Argo CD refuses to {call.what} {call.app} while automated sync is on; turn "
            "auto-sync off first or revert the change in Git. Nothing was changed.",
        )
    if call.action is not None and "Lua resource action" in message:
        shown = ".".join(map(str, version)) if version else "this version"
        needs = " (it needs Argo CD 3.1 or newer)" if call.action in V31_ACTIONS else ""
        return DeployToolError(
            DeployFailure.UNSUPPORTED,
            f"Argo CD {shown} has no `{call.action}` action for Rollouts{needs}. "
            "Nothing was changed.",
        )
    if status == 403 and call.app:
        may = f" or may not {call.what} it" if call.writes else ""
        return DeployToolError(
            DeployFailure.NOT_FOUND,
            f"{app} not found (or Herald's account may not see it{may}); check the app "
            "name and project in the service catalog and Herald's Argo CD RBAC policy.",
        )
    if status == 403:
        return DeployToolError(DeployFailure.DENIED, f"Argo CD refused Herald's account{said}.")
    if status == 404:
        return DeployToolError(
            DeployFailure.NOT_FOUND,
            f"{app}: not found{said}. Check the names in the service catalog."
            if call.app
            else f"Argo CD answered 404{said}; is ARGOCD_URL the Argo CD server?",
        )
    if "No operation is in progress" in message:
        return DeployToolError(
            DeployFailure.INVALID, f"{app} has no operation running; there is nothing to stop."
        )
    if status >= 500 or status in (408, 429) or payload is None:
        return DeployToolError(
            DeployFailure.UNAVAILABLE,
            f"Argo CD is not answering properly (HTTP {status}{said}); try again in a minute.",
        )
    return DeployToolError(
        DeployFailure.INVALID, f"Argo CD refused to {call.what} {call.app or 'it'}{said}."
    )


# -- parsing -------------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def parse_app(data: Mapping[str, Any]) -> AppStatus:
    """An Application JSON (``GET /api/v1/applications/{name}``) as an ``AppStatus``."""
    spec, status = data.get("spec") or {}, data.get("status") or {}
    automated = (spec.get("syncPolicy") or {}).get("automated")
    sync, health = status.get("sync") or {}, status.get("health") or {}
    op_state = status.get("operationState") or {}
    revision = sync.get("revision") or next(iter(sync.get("revisions") or []), None)
    phase = op_state.get("phase") or ("Running" if data.get("operation") else None)
    return AppStatus(
        name=str((data.get("metadata") or {}).get("name", "")),
        sync_status=str(sync.get("status") or "Unknown"),
        health_status=str(health.get("status") or "Unknown"),
        revision=str(revision) if revision else None,
        auto_sync=automated is not None and automated.get("enabled") is not False,
        self_heal=bool(automated and automated.get("selfHeal")),
        health_message=health.get("message") or None,
        operation_phase=phase,
        operation_message=op_state.get("message") or None,
        history=tuple(
            HistoryEntry(
                id=int(h.get("id", 0)),
                revision=str(h.get("revision") or next(iter(h.get("revisions") or []), "")),
                deployed_at=_time(h.get("deployedAt")),
            )
            for h in status.get("history") or []
        ),
        images=tuple(str(i) for i in (status.get("summary") or {}).get("images") or []),
    )


def _seconds(duration: Any) -> int | None:
    """A Rollouts pause duration (``30``, ``"30s"``, ``"10m"``, ``"1h"``) in seconds."""
    if isinstance(duration, int | float):
        return int(duration)
    parts = re.fullmatch(r"((?:\d+[hms]?)+)", str(duration or "").strip())
    if parts is None:
        return None
    units = {"h": 3600, "m": 60, "s": 1, "": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms]?)", parts[1]))


def _step(raw: Mapping[str, Any]) -> CanaryStep:
    if "setWeight" in raw:
        return CanaryStep(set_weight=int(raw["setWeight"]))
    if "pause" in raw:
        return CanaryStep(pause=True, pause_seconds=_seconds((raw["pause"] or {}).get("duration")))
    return CanaryStep()  # analysis, experiment, setCanaryScale, ...: no weight of their own


def parse_rollout(manifest: Mapping[str, Any]) -> RolloutStatus:
    """A live Rollout object as a ``RolloutStatus`` (weights as the kubectl plugin reports)."""
    meta, spec, st = (manifest.get(k) or {} for k in ("metadata", "spec", "status"))
    raw_steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
    steps = tuple(_step(s) for s in raw_steps)
    index = st.get("currentStepIndex")
    index = int(index) if index is not None else None
    pod, stable = st.get("currentPodHash"), st.get("stableRS")
    aborted, promoted = bool(st.get("abort")), bool(pod) and pod == stable
    reasons = tuple(str(c.get("reason")) for c in st.get("pauseConditions") or [])
    manual = bool(spec.get("paused"))
    paused = manual or bool(reasons) or st.get("phase") == "Paused"
    if promoted or (index is not None and index >= len(steps) and not aborted):
        set_weight = 100
    elif aborted or index is None:
        set_weight = 0
    else:
        before = [s.set_weight for s in steps[: index + 1] if s.set_weight is not None]
        set_weight = before[-1] if before else 0
    weights = (st.get("canary") or {}).get("weights")
    available, updated = st.get("availableReplicas"), st.get("updatedReplicas")
    actual: int | None
    if promoted:
        actual = 100
    elif aborted:
        actual = 0
    elif weights:
        actual = int((weights.get("canary") or {}).get("weight", 0))
    elif available and updated is not None:  # replica-based canary: updated pods are canary
        actual = min(int(updated), int(available)) * 100 // int(available)
    else:
        actual = None
    state = "aborted" if aborted else "paused" if paused else "running"
    extra = {
        "stable_rs": stable,
        "pod_hash": pod,
        "observed_generation": st.get("observedGeneration"),
    }
    return RolloutStatus(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        phase=str(st.get("phase") or "Progressing"),
        step_index=index if steps else None,
        steps=steps,
        set_weight=set_weight,
        actual_weight=actual,
        paused=paused,
        aborted=aborted,
        message=st.get("message") or None,
        pause_reasons=(*reasons, "ManualPause") if manual else reasons,
        fully_promoted=promoted,
        generation=f"{pod}:{index}:{state}",
        extra={k: str(v) for k, v in extra.items() if v},
    )
