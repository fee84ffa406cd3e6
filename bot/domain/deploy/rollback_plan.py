"""What a rollback will do, as the user confirms it and a button carries it: its kind, the
target, and the claim that makes it happen once per attempt."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

from bot.domain.deploy.tool import HistoryEntry
from bot.domain.text import Code, Text, text


class RollbackKind(StrEnum):
    ABORT = "abort"  # a canary in flight: send traffic back to stable
    ARGO = "argo"  # an Argo CD rollback to a history entry


@dataclass(frozen=True)
class RollbackPlan:
    service: str
    env: str
    kind: RollbackKind
    summary: Text  # what the user confirms
    release_id: str | None = None
    history_id: int | None = None
    revision: str | None = None
    to_version: str | None = None
    auto_sync: bool = False
    attempt: int = 1  # of this rollback's claim (`bot/domain/deploy/attempts.py`)

    @property
    def key(self) -> str:
        """The claim that makes this rollback happen once (per attempt)."""
        return rollback_key(
            self.service, self.env, self.release_id, kind=self.kind, history_id=self.history_id
        )

    def encode(self, *, summary: Callable[[Text], str] = Text.plain) -> str:
        """The plan as JSON; its summary a string, as `summary` writes it (plain text). A
        first attempt is written without its number, as plans were before attempts."""
        data = {**asdict(self), "summary": summary(self.summary)}
        if self.attempt == 1:
            del data["attempt"]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> RollbackPlan:
        """The plan `encode` wrote; its summary comes back as that string."""
        data = json.loads(raw)
        return cls(**{**data, "kind": RollbackKind(data["kind"]), "summary": text(data["summary"])})


def rollback_key(
    service: str, env: str, release_id: str | None, *, kind: RollbackKind, history_id: int | None
) -> str:
    return f"rollback:{service}:{env}:{release_id}:{kind}:{history_id}"


def history_words(app: str, *, entry: HistoryEntry, version: str | None) -> Text:
    """`1.41.3 (Argo CD `app` history #1, revision 1a2b3c4)`, or without a version known
    `revision 1a2b3c4 (Argo CD `app` history #1)`."""
    revision = entry.revision[:7]
    if version is None:
        return text(f"revision {revision} (Argo CD ", Code(app), f" history #{entry.id})")
    return text(f"{version} (Argo CD ", Code(app), f" history #{entry.id}, revision {revision})")
