"""The release manifest CI posts: the source of truth for a release (docs/design.md §1)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlparse

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from bot.domain.release.timestamps import Moment

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Token = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$", max_length=128)
]
ReleaseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]


def _http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    if any(ch in value for ch in " <>|\n\r\t"):
        raise ValueError("must not contain spaces, '<', '>' or '|'")
    return value


Url = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]


class Risk(StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class _Open(BaseModel):
    """Unknown fields are kept, not rejected (docs/design.md §1)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class GitRef(_Open):
    repo: Text
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{4,64}$")]
    tag: Text | None = None
    committed_at: Moment | None = None


class Change(_Open):
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
    scope: Annotated[str, StringConstraints(max_length=64)] | None = None
    summary: Text
    issues: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    breaking: bool = False
    committed_at: Moment | None = None


class Rollback(_Open):
    to_version: Text | None = None
    strategy: Text | None = None


SAFE_DEFAULTS = frozenset({"off", "false", "0", "disabled", "no"})


class Flag(_Open):
    """A feature flag the release ships behind: `{key, owner, expires, default}`; `default`
    is its value when the release lands (`off` is a safe default)."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    owner: Token | None = None
    expires: Moment | None = None
    default: bool | Annotated[str, StringConstraints(max_length=64)] | None = None

    @property
    def safe(self) -> bool:
        """Off by default: the code ships dark and a rollback is not its only way out."""
        return str(self.default).lower() in SAFE_DEFAULTS if self.default is not None else False


class Requirement(_Open):
    """`checkout 3.1 needs payments >= 2.3`: a service (in an env, default the release's)
    whose running version must satisfy a PEP 440 specifier."""

    service: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    env: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")] | None = None
    version: Annotated[str, StringConstraints(min_length=1, max_length=100)]

    @field_validator("version")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"{value!r} is not a PEP 440 version range, e.g. >=2.3.0,<3") from None
        return value

    def satisfied_by(self, version: str) -> bool | None:
        """None when `version` is not PEP 440 (it cannot be compared)."""
        try:
            return Version(version.removeprefix("v")) in SpecifierSet(self.version)
        except InvalidVersion:
            return None


class Manifest(_Open):
    """A release manifest as CI sends it."""

    id: ReleaseId
    version: Token
    env: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    service: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")] | None = None
    git: GitRef
    changes: list[Change] = Field(default_factory=list, max_length=1000)
    flags: list[Annotated[str, StringConstraints(min_length=1, max_length=128)] | Flag] = Field(
        default_factory=list, max_length=200
    )  # plain keys, or flags with an owner, expiry and default
    rollback: Rollback | None = None
    owner: Token
    created_at: Moment
    risk: Risk | None = None
    risk_notes: Text | None = None  # what could go wrong, for the approvers
    author: Token | None = None  # who asks for the release (Slack user id): not its approver
    planned_for: Moment | None = None  # when it is meant to ship (the release calendar)
    requires: list[Requirement] = Field(default_factory=list, max_length=20)
    links: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")], Url] = Field(
        default_factory=dict, max_length=20
    )
    customer_visible: list[Text] = Field(default_factory=list, max_length=100)
    support: list[Text] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _derive_service(self) -> Manifest:
        if self.service is None:
            derived = service_from_repo(self.git.repo)
            object.__setattr__(self, "service", derived)
        return self

    @property
    def service_name(self) -> str:
        assert self.service is not None  # filled by _derive_service
        return self.service

    def flag_keys(self) -> list[str]:
        return [flag if isinstance(flag, str) else flag.key for flag in self.flags]

    def flags_without_safe_default(self) -> list[str]:
        """The flags not declared with a safe default (a plain key declares none)."""
        return [flag if isinstance(flag, str) else flag.key for flag in self.flags
                if isinstance(flag, str) or not flag.safe]  # fmt: skip

    def earliest_commit_at(self) -> datetime | None:
        """The oldest commit time the manifest names, for lead time."""
        stamps = [c.committed_at for c in self.changes if c.committed_at]
        if self.git.committed_at:
            stamps.append(self.git.committed_at)
        return min(stamps) if stamps else None

    def all_issues(self) -> list[str]:
        seen: dict[str, None] = {}
        for change in self.changes:
            seen.update(dict.fromkeys(change.issues))
        return list(seen)

    def canonical(self) -> dict[str, Any]:
        """The manifest as JSON-ready data with the derived service filled in."""
        return self.model_dump(mode="json", exclude_none=True)

    def digest(self) -> str:
        """A stable fingerprint: the same manifest posted twice has the same digest."""
        raw = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()


def service_from_repo(repo: str) -> str:
    """`github.com/acme/webapp` (or a URL, or `….git`) → `webapp`."""
    tail = repo.rstrip("/").rsplit("/", 1)[-1]
    tail = tail.removesuffix(".git").lower()
    return tail or "unknown"
