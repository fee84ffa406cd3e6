"""Argo CD's Application and Argo Rollouts' Rollout JSON as the plain types of the domain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.deploy.tool import AppStatus, CanaryStep, HistoryEntry, RolloutStatus


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
