"""Wire pieces of the fake Argo CD: recorded calls, gRPC-gateway errors, Patch bodies.

Error answers are gRPC-gateway JSON (``{"error", "code", "message", "details"}``) with the
HTTP status Argo CD's gateway maps the gRPC code to.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["ArgoCall", "ArgoError", "json_patch", "merge_patch"]


@dataclass
class ArgoCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    at: float  # time.monotonic() when received
    status: int  # what the fake answered (0: the connection was dropped)
    answer: Any = None  # the JSON body answered


class ArgoError(Exception):
    """A gRPC status turned into an HTTP answer by Argo CD's gRPC gateway."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, "message": self.message, "details": []}

    @classmethod
    def invalid(cls, message: str) -> ArgoError:
        return cls(400, 3, message)  # InvalidArgument

    @classmethod
    def precondition(cls, message: str) -> ArgoError:
        return cls(400, 9, message)  # FailedPrecondition

    @classmethod
    def denied(cls) -> ArgoError:
        return cls(403, 7, "permission denied")  # PermissionDenied

    @classmethod
    def not_found(cls, message: str) -> ArgoError:
        return cls(404, 5, message)  # NotFound


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch: add, replace and remove (what Argo CD users send)."""
    if not isinstance(ops, list):
        raise ArgoError.invalid("invalid JSON patch: expected an array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise ArgoError.invalid("invalid JSON patch operation")
        keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/")[1:]]
        parent = doc
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or not keys:
            raise ArgoError.invalid(f"invalid JSON patch path {op['path']}")
        kind = op.get("op")
        if kind in ("add", "replace"):
            parent[keys[-1]] = copy.deepcopy(op.get("value"))
        elif kind == "remove" and keys[-1] in parent:
            del parent[keys[-1]]
        else:
            raise ArgoError.invalid(f"unsupported JSON patch operation {kind!r} on {op['path']}")
    return doc
