"""The Applications behind the fake Argo CD: live state, wire JSON and server-side rules.

HTTP, auth and faults live in ``standins.argocd``; the Rollout and its "controller" in
``standins.argocd_rollout``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from standins.argocd_rollout import FakeRollout, now_rfc3339
from standins.argocd_wire import ArgoError, json_patch, merge_patch

__all__ = ["FakeApp"]

ACCOUNT = "herald"  # the Argo CD account behind the fake's token
HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
ROLLOUT_HEALTH = {"Healthy": "Healthy", "Paused": "Suspended", "Degraded": "Degraded"}


def _worse(a: str, b: str) -> str:
    rank = {h: i for i, h in enumerate(HEALTH_ORDER)}
    return a if rank.get(a, len(rank)) >= rank.get(b, len(rank)) else b


class FakeApp:
    """One Argo CD Application; mutate its attributes freely in tests."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        namespace: str,
        revision: str,
        history: Sequence[tuple[int, str]],
        auto_sync: bool,
        self_heal: bool,
        health: str,
        sync: str,
        repo_url: str,
        rollout: FakeRollout | None,
    ) -> None:
        self.name, self.project, self.namespace = name, project, namespace
        self.repo_url = repo_url
        self.revision = revision  # what is deployed
        self.head = revision  # what Git's targetRevision resolves to now
        self.health, self.health_message, self.sync = health, None, sync
        self.automated: dict[str, Any] | None = (
            {"prune": True, "selfHeal": self_heal} if auto_sync else None
        )
        self.rollout = rollout
        self.operation: dict[str, Any] | None = None  # set while an operation runs
        self.operation_state: dict[str, Any] | None = None
        self.resource_version = 1
        start = datetime.now(UTC) - timedelta(hours=len(history) + 1)
        self.created_at = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        entries = list(history) or [(0, revision)]
        self.history: list[dict[str, Any]] = [
            self._history_entry(i, rev, start + timedelta(hours=n + 1), automated=True)
            for n, (i, rev) in enumerate(entries)
        ]
        if rollout is not None:
            older = [rev for _, rev in entries if rev != revision]
            stable = older[-1] if older else f"{revision}~1"
            rollout.rebase(self.image_for(revision), self.image_for(stable))

    # -- reading ---------------------------------------------------------------------------

    @property
    def auto_sync(self) -> bool:
        return self.automated is not None and self.automated.get("enabled") is not False

    def image_for(self, revision: str) -> str:
        return f"ghcr.io/acme/{self.name}:{revision[:7]}"

    def images(self) -> list[str]:
        return self.rollout.images() if self.rollout else [self.image_for(self.revision)]

    def health_status(self) -> str:
        if self.rollout is None:
            return self.health
        phase = str(self.rollout.status.get("phase", "Progressing"))
        return _worse(self.health, ROLLOUT_HEALTH.get(phase, "Progressing"))

    def source(self) -> dict[str, Any]:
        return {"repoURL": self.repo_url, "path": f"deploy/{self.name}", "targetRevision": "HEAD"}

    def to_json(self) -> dict[str, Any]:
        policy: dict[str, Any] = {"syncOptions": ["CreateNamespace=true"]}
        if self.automated is not None:
            policy["automated"] = copy.deepcopy(self.automated)
        destination = {"server": "https://kubernetes.default.svc", "namespace": self._dest_ns()}
        health: dict[str, Any] = {"status": self.health_status()}
        message = self.health_message or (self.rollout and self.rollout.status.get("message"))
        if message:
            health["message"] = message
        status: dict[str, Any] = {
            "sync": {
                "status": self.sync,
                "revision": self.revision,
                "comparedTo": {"source": self.source(), "destination": destination},
            },
            "health": health,
            "history": copy.deepcopy(self.history),
            "summary": {"images": self.images()},
            "resources": [
                {**ref, "status": self.sync, "health": {"status": node_health}}
                for ref, node_health in self._managed()
            ],
            "reconciledAt": now_rfc3339(),
            "sourceType": "Kustomize",
            "controllerNamespace": "argocd",
        }
        if self.operation_state is not None:
            status["operationState"] = copy.deepcopy(self.operation_state)
        app: dict[str, Any] = {
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": f"uid-app-{self.namespace}-{self.name}",
                "resourceVersion": str(self.resource_version),
                "generation": self.resource_version,
                "creationTimestamp": self.created_at,
            },
            "spec": {
                "project": self.project,
                "source": self.source(),
                "destination": destination,
                "syncPolicy": policy,
            },
            "status": status,
        }
        if self.operation is not None:
            app["operation"] = copy.deepcopy(self.operation)
        return app

    def resource_tree(self) -> dict[str, Any]:
        nodes: list[dict[str, Any]] = []
        for ref, node_health in self._managed():
            nodes.append(
                {
                    **ref,
                    "uid": f"uid-{ref['kind']}-{ref['name']}",
                    "resourceVersion": str(self.resource_version),
                    "health": {"status": node_health},
                    "createdAt": self.created_at,
                }
            )
        ro = self.rollout
        if ro is not None:
            parent = {
                "group": "argoproj.io",
                "kind": "Rollout",
                "namespace": ro.namespace,
                "name": ro.name,
                "uid": f"uid-Rollout-{ro.name}",
            }
            for image in ro.images():
                nodes.append(
                    {
                        "group": "apps",
                        "version": "v1",
                        "kind": "ReplicaSet",
                        "namespace": ro.namespace,
                        "name": f"{ro.name}-{image.rsplit(':', 1)[-1]}",
                        "uid": f"uid-rs-{image}",
                        "parentRefs": [parent],
                        "images": [image],
                        "health": {"status": "Healthy"},
                        "createdAt": self.created_at,
                        "info": [{"name": "Revision", "value": f"Rev:{ro.generation}"}],
                    }
                )
        return {"nodes": nodes, "hosts": []}

    def live_rollout(self, query: dict[str, str]) -> FakeRollout:
        """The Rollout the resource query names, or Argo CD's NotFound."""
        ro = self.rollout
        name, kind, group = (
            query.get("resourceName", ""),
            query.get("kind", ""),
            query.get("group", ""),
        )
        if (
            ro is None
            or (kind, group, name) != ("Rollout", "argoproj.io", ro.name)
            or query.get("namespace", ro.namespace) != ro.namespace
        ):
            raise ArgoError.not_found(
                f"{kind} {group} {name} not found as part of application {self.name}"
            )
        return ro

    # -- operations ------------------------------------------------------------------------

    def hold_operation(self) -> None:
        """An operation (a sync) is Running and stays so until finished or terminated."""
        started = now_rfc3339()
        self.operation = {
            "sync": {"revision": self.head, "source": self.source()},
            "initiatedBy": {"automated": True},
            "retry": {},
        }
        self.operation_state = {
            "operation": copy.deepcopy(self.operation),
            "phase": "Running",
            "message": "waiting for healthy state of argoproj.io/Rollout/"
            + (self.rollout.name if self.rollout else self.name),
            "startedAt": started,
        }

    def finish_operation(self, phase: str = "Succeeded", message: str | None = None) -> None:
        if self.operation_state is None:
            return
        self.operation = None
        self.operation_state["phase"] = phase
        self.operation_state["message"] = message or (
            "successfully synced (all tasks run)"
            if phase == "Succeeded"
            else "one or more tasks failed"
        )
        self.operation_state["finishedAt"] = now_rfc3339()

    def terminate_operation(self) -> None:
        if self.operation is None or self.operation_state is None:
            raise ArgoError.invalid("Unable to terminate operation. No operation is in progress")
        self.finish_operation("Failed", "Operation terminated")

    def rollback(self, history_id: int, *, dry_run: bool, prune: bool) -> None:
        """Argo CD's ApplicationService.Rollback rules, in its order."""
        if self.auto_sync:
            raise ArgoError.precondition("rollback cannot be initiated when auto-sync is enabled")
        entry = next((h for h in self.history if h["id"] == history_id), None)
        if entry is None:
            raise ArgoError.invalid(
                f"application {self.name} does not have deployment with id {history_id}"
            )
        if self.operation is not None:
            raise ArgoError.precondition(
                "error setting app operation: another operation is already in progress"
            )
        if not dry_run:
            self.sync_to(str(entry["revision"]), automated=False, prune=prune)

    def sync_to(self, revision: str, *, automated: bool, prune: bool = False) -> None:
        """A completed sync: history entry, operation state, and the Rollout's new template."""
        now = datetime.now(UTC)
        started = (now - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        initiated: dict[str, Any] = {"automated": True} if automated else {"username": ACCOUNT}
        operation = {
            "sync": {"revision": revision, "prune": prune, "source": self.source()},
            "initiatedBy": initiated,
            "retry": {},
        }
        self.operation_state = {
            "operation": operation,
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": started,
            "finishedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "syncResult": {"revision": revision, "source": self.source(), "resources": []},
        }
        entry = self._history_entry(
            max((h["id"] for h in self.history), default=-1) + 1, revision, now, automated=automated
        )
        self.history = [*self.history, entry][-10:]  # spec.revisionHistoryLimit defaults to 10
        self.revision = revision
        self.sync = "Synced" if revision == self.head else "OutOfSync"
        self.resource_version += 1
        if self.rollout is not None:
            self.rollout.deploy(self.image_for(revision))

    def apply_patch(self, patch: str, patch_type: str) -> None:
        """ApplicationService.Patch: only spec.syncPolicy changes are kept by the fake."""
        try:
            ops = json.loads(patch)
        except ValueError as e:
            raise ArgoError.invalid(f"invalid patch: {e}") from None
        current = self.to_json()
        if patch_type == "merge":
            patched = merge_patch(current, ops)
        elif patch_type in ("json", ""):
            patched = json_patch(current, ops)
        else:
            raise ArgoError.invalid(f"Patch type '{patch_type}' is not supported")
        spec = patched.get("spec") if isinstance(patched, dict) else None
        policy = spec.get("syncPolicy") if isinstance(spec, dict) else None
        automated = policy.get("automated") if isinstance(policy, dict) else None
        if automated is not None and not isinstance(automated, dict):
            raise ArgoError.invalid("spec.syncPolicy.automated must be an object")
        self.automated = copy.deepcopy(automated)
        self.resource_version += 1
        if self.auto_sync and self.revision != self.head and self.operation is None:
            prune = bool((self.automated or {}).get("prune"))
            self.sync_to(self.head, automated=True, prune=prune)

    # -- internals -------------------------------------------------------------------------

    def _dest_ns(self) -> str:
        return self.rollout.namespace if self.rollout else self.name

    def _managed(self) -> list[tuple[dict[str, str], str]]:
        ns = self._dest_ns()
        if self.rollout is None:
            ref = {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": ns}
            return [({**ref, "name": self.name}, self.health)]
        ro = self.rollout
        rollout_ref = {
            "group": "argoproj.io",
            "version": "v1alpha1",
            "kind": "Rollout",
            "namespace": ns,
            "name": ro.name,
        }
        services = [
            (
                {"group": "", "version": "v1", "kind": "Service", "namespace": ns, "name": svc},
                "Healthy",
            )
            for svc in (f"{ro.name}-canary", f"{ro.name}-stable")
        ]
        phase = str(ro.status.get("phase", "Progressing"))
        return [*services, (rollout_ref, ROLLOUT_HEALTH.get(phase, "Progressing"))]

    def _history_entry(
        self, id_: int, revision: str, at: datetime, *, automated: bool
    ) -> dict[str, Any]:
        deployed = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": id_,
            "revision": revision,
            "deployedAt": deployed,
            "deployStartedAt": (at - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": self.source(),
            "initiatedBy": {"automated": True} if automated else {"username": ACCOUNT},
        }
