"""Herald's error hierarchy: translated at the edges, handled in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass
class FieldProblem:
    """One bad field in a request: where it is and what is wrong with it."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class HeraldError(Exception):
    """Base of every error Herald raises on purpose. `message` is safe to show a user."""

    status = 500

    def __init__(self, message: str, *, details: Sequence[FieldProblem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)

    def __str__(self) -> str:
        return self.message


class DomainError(HeraldError):
    """Base of the domain's own errors (`bot.domain`). One with an HTTP meaning sets `status`;
    the others keep 500 and, should one reach the HTTP edge, are answered as a bug."""


class InvalidInput(HeraldError):
    """The request is well-formed JSON but violates the schema."""

    status = 422


class MalformedRequest(HeraldError):
    """The request cannot be read at all (not JSON, wrong content type)."""

    status = 400


class UnsupportedMediaType(HeraldError):
    status = 415


class Unauthorized(HeraldError):
    status = 401


class NotFound(HeraldError):
    status = 404


class Conflict(HeraldError):
    """The request contradicts what Herald already recorded."""

    status = 409


class IntegrationError(HeraldError):
    """A call to an outside system failed. `retryable` says whether trying again may help;
    `ambiguous` that the request may have arrived (and taken effect) although no answer did;
    `http_status` is the outside system's answer, when there was one."""

    status = 502

    def __init__(
        self,
        service: str,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        ambiguous: bool = False,
        http_status: int | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.retryable = retryable
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.http_status = http_status
        self.extra: dict[str, str] = dict(extra or {})

    def __str__(self) -> str:
        return f"{self.service}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(service={self.service!r}, message={self.message!r}, "
            f"retryable={self.retryable}, retry_after={self.retry_after}, "
            f"ambiguous={self.ambiguous}, http_status={self.http_status})"
        )
