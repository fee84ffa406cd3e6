"""One reason the gate gives: a code CI can match and a sentence people read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Reason:
    code: str  # frozen, pre_approved, ...
    message: str
    until: datetime | None = None
    window: str | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.until is not None:
            found["until"] = self.until.isoformat()
        if self.window is not None:
            found["window"] = self.window
        return found
