"""A canary Argo Rollout (argoproj.io/v1alpha1) whose status moves as the controller would.

The fake's "controller" runs synchronously inside every action: ``resume`` clears the
pause and the controller walks on through ``setWeight`` steps until the next pause step
(or the end); ``skip-current-step`` increments ``currentStepIndex`` and walks on the same
way; ``promote-full`` finishes every step; ``abort`` sends all traffic back to stable and,
as the controller does, resets ``currentStepIndex`` to 0; ``retry`` (the kubectl plugin's
``{"status": {"abort": false}}``) clears the abort, so the update starts over from the first
step with the same template: same pod hash, same steps, same ``observedGeneration``.
Timed pauses never expire by themselves: call ``expire_pause()``.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_STEPS", "FakeRollout", "pod_hash"]

DEFAULT_STEPS: tuple[dict[str, Any], ...] = (
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {"duration": "10m"}},
    {"setWeight": 100},
)
V31_ACTIONS = frozenset({"pause", "skip-current-step"})  # added in Argo CD v3.1.0
ALL_ACTIONS = ("abort", "pause", "promote-full", "restart", "resume", "retry", "skip-current-step")


def pod_hash(revision: str) -> str:
    """The pod-template hash the fake gives the Rollout template of one Git revision."""
    return hashlib.sha256(revision.encode()).hexdigest()[:10]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeRollout:
    """One Rollout: ``spec`` and ``status`` are the live v1alpha1 objects (plain dicts)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        steps: Sequence[Mapping[str, Any]] = DEFAULT_STEPS,
        step_index: int = 1,
        paused_at_step: bool = True,
        replicas: int = 10,
        traffic_routing: bool = False,
        *,
        image: str = "ghcr.io/acme/webapp:canary",
        stable_image: str = "ghcr.io/acme/webapp:stable",
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.image = image
        self.stable_image = stable_image
        self.generation = 1
        canary: dict[str, Any] = {
            "canaryService": f"{name}-canary",
            "stableService": f"{name}-stable",
            "steps": [copy.deepcopy(dict(s)) for s in steps],
        }
        if traffic_routing:
            canary["trafficRouting"] = {"nginx": {"stableIngress": f"{name}-ingress"}}
        self.spec: dict[str, Any] = {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"spec": {"containers": [{"name": name, "image": image}]}},
            "strategy": {"canary": canary},
        }
        self.status: dict[str, Any] = {
            "currentPodHash": pod_hash(image),
            "stableRS": pod_hash(stable_image),
            "currentStepHash": pod_hash(repr(canary["steps"])),
            "observedGeneration": "1",
        }
        self._weight = 0
        self._pause_index: int | None = None
        self._place(step_index, paused_at_step)

    # -- reading ---------------------------------------------------------------------------

    @property
    def steps(self) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = self.spec["strategy"]["canary"]["steps"]
        return steps

    @property
    def traffic_routing(self) -> bool:
        return "trafficRouting" in self.spec["strategy"]["canary"]

    @property
    def step_index(self) -> int:
        return int(self.status.get("currentStepIndex", 0))

    @property
    def fully_promoted(self) -> bool:
        return bool(self.status.get("currentPodHash") == self.status.get("stableRS"))

    @property
    def aborted(self) -> bool:
        return bool(self.status.get("abort"))

    @property
    def paused(self) -> bool:
        """Paused as the ``resume`` action sees it: pause conditions or a manual pause."""
        return bool(self.status.get("pauseConditions")) or bool(self.spec.get("paused"))

    @property
    def weight(self) -> int:
        """The canary weight the controller has applied (0 when aborted)."""
        if self.fully_promoted:
            return 100
        return 0 if self.aborted else self._weight

    def images(self) -> list[str]:
        """Images of the running pods (both versions while a canary is in flight)."""
        if self.fully_promoted:
            return [self.image]
        return [self.stable_image] if self.aborted else sorted({self.stable_image, self.image})

    def manifest(self) -> dict[str, Any]:
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "generation": self.generation,
                "uid": f"uid-rollout-{self.namespace}-{self.name}",
                "labels": {"app.kubernetes.io/instance": self.name},
            },
            "spec": copy.deepcopy(self.spec),
            "status": copy.deepcopy(self.status),
        }

    def actions(self, *, v31: bool) -> list[dict[str, Any]]:
        """What Argo CD's built-in discovery.lua reports, ``disabled`` computed live."""
        promoted, aborted = self.fully_promoted, self.aborted
        disabled = {
            "abort": promoted or aborted,
            "pause": promoted or aborted or bool(self.spec.get("paused")),
            "promote-full": promoted,
            "restart": False,
            "resume": not self.paused,
            "retry": promoted or not aborted,
            "skip-current-step": not self.steps or self.step_index >= len(self.steps),
        }
        listed = [a for a in ALL_ACTIONS if v31 or a not in V31_ACTIONS]
        return [
            {"name": a, "disabled": disabled[a]}
            | ({"displayName": "Restart Pods"} if a == "restart" else {})
            for a in listed
        ]

    # -- what actions do (the Lua scripts), then the controller ----------------------------

    def apply(self, action: str) -> None:
        """Run one built-in action the way its action.lua does, then reconcile."""
        st = self.status
        if action == "resume":
            st.pop("pauseConditions", None)
            if "paused" in self.spec:
                self.spec["paused"] = False
        elif action == "skip-current-step":
            if self.step_index < len(self.steps):
                st.pop("pauseConditions", None)
                st["currentStepIndex"] = self.step_index + 1
        elif action == "promote-full":
            st["promoteFull"] = True
        elif action == "pause":
            self.spec["paused"] = True
        elif action == "abort":
            st["abort"] = True
        elif action == "retry":
            st.pop("abort", None)  # the abort already reset the step: the update starts over
        elif action == "restart":
            self.spec["restartAt"] = now_rfc3339()
        else:
            raise ValueError(f"unknown Rollout action {action!r}")
        if action in ("pause", "restart"):
            self.generation += 1
        self.reconcile()

    def expire_pause(self) -> None:
        """A timed pause step's duration has passed: the controller resumes by itself."""
        if self.status.pop("pauseConditions", None) is not None:
            self.reconcile()

    def rebase(self, image: str, stable_image: str) -> None:
        """Name the two versions (keeps the step state): used when an app adopts the Rollout."""
        promoted = self.fully_promoted
        self.image, self.stable_image = image, image if promoted else stable_image
        self.spec["template"]["spec"]["containers"][0]["image"] = image
        self.status["currentPodHash"] = pod_hash(image)
        self.status["stableRS"] = pod_hash(self.stable_image)
        if not promoted and self.fully_promoted:  # same image twice: keep the canary apart
            self.status["stableRS"] = pod_hash(f"{stable_image}-stable")
        self._refresh_replicas()

    def deploy(self, image: str) -> None:
        """A new pod template (a sync to another revision): back to stable or a new canary."""
        self.generation += 1
        self.image = image
        self.spec["template"]["spec"]["containers"][0]["image"] = image
        st = self.status
        for key in ("abort", "abortedAt", "promoteFull", "pauseConditions", "controllerPause"):
            st.pop(key, None)
        self._pause_index = None
        st["currentPodHash"] = pod_hash(image)
        if self.fully_promoted:  # back to the stable template: every step is skipped
            self._complete()
        else:
            st["currentStepIndex"] = 0
            self._weight = 0
            self.reconcile()

    def reconcile(self) -> None:
        """One pass of the Rollouts controller (synchronous; replicas become ready at once)."""
        st, steps = self.status, self.steps
        if st.get("promoteFull"):
            self._complete()
            return
        if self.fully_promoted:
            st.pop("abort", None)
            self._set_phase("Healthy", None)
            return
        if st.get("abort"):
            st.pop("pauseConditions", None)
            st.pop("controllerPause", None)
            self._pause_index = None
            st["currentStepIndex"] = 0  # rollout/canary.go: an aborted canary is back at step 0
            self._weight = 0
            st.setdefault("abortedAt", now_rfc3339())
            message = f"RolloutAborted: Rollout aborted update to revision {self.generation}"
            self._set_phase("Degraded", message)
            return
        st.pop("abortedAt", None)
        if self.spec.get("paused"):
            self._set_phase("Paused", "manually paused")
            return
        idx = self.step_index
        if st.get("controllerPause") and self._pause_index != idx:
            st.pop("controllerPause", None)  # the step changed under the pause: stale
        while idx < len(steps):
            step = steps[idx]
            if "setWeight" in step:
                self._weight = int(step["setWeight"])
            elif "pause" in step:
                if st.get("pauseConditions"):
                    break
                if not st.pop("controllerPause", None):
                    st["pauseConditions"] = [
                        {"reason": "CanaryPauseStep", "startTime": now_rfc3339()}
                    ]
                    st["controllerPause"] = True
                    self._pause_index = idx
                    break
            idx += 1
        st["currentStepIndex"] = idx
        if idx >= len(steps):
            self._complete()
        elif st.get("pauseConditions"):
            self._set_phase("Paused", "CanaryPauseStep")
        else:
            self._set_phase("Progressing", "more replicas need to be updated")

    # -- internals -------------------------------------------------------------------------

    def _place(self, step_index: int, paused_at_step: bool) -> None:
        """The initial state: at ``step_index``, weights applied up to it."""
        steps, st = self.steps, self.status
        st["currentStepIndex"] = max(0, min(step_index, len(steps)))
        if step_index >= len(steps):
            self._complete()
            return
        self._weight = next(
            (int(s["setWeight"]) for s in reversed(steps[: step_index + 1]) if "setWeight" in s),
            0,
        )
        if paused_at_step and "pause" in steps[step_index]:
            st["pauseConditions"] = [{"reason": "CanaryPauseStep", "startTime": now_rfc3339()}]
            st["controllerPause"] = True
            self._pause_index = step_index
            self._set_phase("Paused", "CanaryPauseStep")
        else:
            self._set_phase("Progressing", "more replicas need to be updated")

    def _complete(self) -> None:
        st = self.status
        for key in ("promoteFull", "pauseConditions", "controllerPause", "abort", "abortedAt"):
            st.pop(key, None)
        self._pause_index = None
        st["currentStepIndex"] = len(self.steps)
        st["stableRS"] = st["currentPodHash"]
        self.stable_image = self.image
        self._weight = 100
        self._set_phase("Healthy", None)

    def _set_phase(self, phase: str, message: str | None) -> None:
        st = self.status
        st["observedGeneration"] = str(self.generation)
        st["phase"] = phase
        if message is None:
            st.pop("message", None)
        else:
            st["message"] = message
        self._refresh_replicas()

    def _refresh_replicas(self) -> None:
        st, n = self.status, int(self.spec["replicas"])
        if self.fully_promoted:
            canary, stable, updated = 0, n, n
        else:
            canary = math.ceil(n * self.weight / 100)
            stable = n if self.traffic_routing else n - canary
            updated = canary
        total = canary + stable
        st.update(replicas=total, updatedReplicas=updated, readyReplicas=total)
        st["availableReplicas"] = total
        if not self.traffic_routing:
            st["canary"] = {}
            return
        canary_weight = 0 if self.fully_promoted else self.weight
        st["canary"] = {
            "weights": {
                "canary": {
                    "weight": canary_weight,
                    "serviceName": f"{self.name}-canary",
                    "podTemplateHash": st["currentPodHash"],
                },
                "stable": {
                    "weight": 100 - canary_weight,
                    "serviceName": f"{self.name}-stable",
                    "podTemplateHash": st["stableRS"],
                },
            }
        }
