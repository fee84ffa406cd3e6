"""A strict reader of Keep a Changelog 1.1.0 (https://keepachangelog.com/en/1.1.0/), for
CHANGELOG.md's test.

The libraries on PyPI either accept what the format does not (`keepachangelog` splits at any
`## ` and keeps `## 0.2 (2026/12/03)` or a `### Addded` section as they are) or validate it
well but bring a Jira client and GitPython along (`python-kacl`); the rules are few enough to
state here.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date

SECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
_SEMVER = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_RELEASE = re.compile(rf"^## \[(?P<version>{_SEMVER})\] - (?P<date>\d{{4}}-\d{{2}}-\d{{2}})$")
_LINK = re.compile(r"^\[[^\]]+\]: \S+$")


class ChangelogError(ValueError):
    """The changelog breaks the format; the message names the line."""


@dataclass
class Release:
    version: str
    released: date | None  # None: [Unreleased]
    sections: dict[str, list[str]] = field(default_factory=dict)


def read_changelog(text: str) -> list[Release]:
    """[Unreleased] first, then every release newest first, each with its sections' entries."""
    lines = text.splitlines()
    if not lines or lines[0] != "# Changelog":
        raise ChangelogError("line 1: the file starts with `# Changelog`")
    releases: list[Release] = []
    section: list[str] | None = None
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("## "):
            releases.append(read_heading(line, number=number, first=not releases))
            section = None
        elif line.startswith("### "):
            section = start_section(releases, line, number=number)
        elif line.startswith("- "):
            if section is None:
                raise ChangelogError(f"line {number}: an entry outside an Added/Changed/… section")
            section.append(line[2:])
        elif line.startswith("  ") and section:
            section[-1] += " " + line.strip()
        elif line.startswith("#") or (releases and line and not _LINK.match(line)):
            raise ChangelogError(f"line {number}: {line!r} is no heading, entry or link")
    check_order(releases)
    return releases


def read_heading(line: str, *, number: int, first: bool) -> Release:
    if line == "## [Unreleased]":
        if not first:
            raise ChangelogError(f"line {number}: [Unreleased] comes first, once")
        return Release("Unreleased", None)
    if first:
        raise ChangelogError(f"line {number}: the first version heading is `## [Unreleased]`")
    if (match := _RELEASE.match(line)) is None:
        raise ChangelogError(f"line {number}: {line!r} is not `## [X.Y.Z] - YYYY-MM-DD`")
    try:
        released = date.fromisoformat(match["date"])
    except ValueError:
        raise ChangelogError(f"line {number}: {match['date']} is not a date") from None
    return Release(match["version"], released)


def start_section(releases: list[Release], line: str, *, number: int) -> list[str]:
    name = line[4:]
    if not releases or name not in SECTIONS:
        raise ChangelogError(f"line {number}: {line!r}: a section is one of {', '.join(SECTIONS)}")
    if name in releases[-1].sections:
        raise ChangelogError(f"line {number}: {name} twice in {releases[-1].version}")
    return releases[-1].sections.setdefault(name, [])


def check_order(releases: list[Release]) -> None:
    released = releases[1:]
    for newer, older in itertools.pairwise(released):
        if version_key(newer.version) <= version_key(older.version):
            raise ChangelogError(f"{newer.version} is listed above {older.version}")
        assert newer.released is not None and older.released is not None
        if newer.released < older.released:
            raise ChangelogError(f"{newer.version} is dated before {older.version}")
    for release in releases:
        if any(not entries for entries in release.sections.values()):
            raise ChangelogError(f"{release.version} has an empty section")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[.+-]", version)[:3])
