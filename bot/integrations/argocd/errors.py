"""The sentence a user reads when an Argo CD call fails, worded from what the call was for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.deploy.tool import DeployFailure, DeployToolError, RolloutAction

V31_ACTIONS = frozenset({RolloutAction.PAUSE, RolloutAction.SKIP_CURRENT_STEP})


@dataclass(frozen=True)
class Call:
    """What a request was for, to word its failure."""

    what: str  # "read", "roll back", "run `resume` on", ...
    app: str | None = None
    writes: bool = False
    action: str | None = None


def explain_failure(
    status: int, payload: Any, call: Call, version: tuple[int, int] | None
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
