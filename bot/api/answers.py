"""The JSON Schema of the answers `GET /api/v1/openapi.json` documents (bot/api/openapi.py)."""

from __future__ import annotations

from typing import Any

ANSWER_SCHEMAS: dict[str, Any] = {
    "Health": {
        "type": "object",
        "description": "`GET /healthz`: the process is alive.",
        "required": ["status", "version"],
        "properties": {
            "status": {"const": "ok"},
            "version": {"type": "string", "description": "Herald's version, as `herald --version`"},
        },
    },
    "Gate": {
        "type": "object",
        "description": "`GET /api/v1/releases/{release_id}/gate`: may the release ship now?",
        "required": ["release_id", "service", "env", "decision", "go", "reasons", "checked_at"],
        "properties": {
            "release_id": {"type": "string"},
            "service": {"type": "string"},
            "env": {"type": "string"},
            "version": {"type": "string"},
            "decision": {"enum": ["go", "pending", "rejected", "frozen"]},
            "go": {"type": "boolean", "description": "decision is go"},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/GateReason"}},
            "checked_at": {"type": "string", "format": "date-time"},
        },
    },
    "GateReason": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "type": "string",
                "description": (
                    "frozen, no_freeze, requires_met, requires_unmet, pre_approved, "
                    "approval_not_required, approval_waiting, approved, rejected, "
                    "post_release_review, rollback_rehearsed, rollback_not_rehearsed"
                ),
            },
            "message": {"type": "string", "description": "one sentence for a CI log"},
            "until": {"type": "string", "format": "date-time", "description": "a freeze's end"},
            "window": {"type": "string", "description": "the freeze window's name"},
        },
    },
}
