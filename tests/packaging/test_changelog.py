"""CHANGELOG.md is Keep a Changelog 1.1.0, and its newest release is the version Herald
installs as (`[project] version`, `herald --version`)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.packaging.changelog import SECTIONS, ChangelogError, read_changelog

ROOT = Path(__file__).resolve().parents[2]
GOOD = """# Changelog

Intro.

## [Unreleased]

### Fixed

- a fix
  on two lines

## [0.2.0] - 2026-12-03

### Added

- b

## [0.1.0] - 2026-11-22

### Added

- a

[Unreleased]: https://example.com/compare/v0.2.0...HEAD
"""


def test_the_changelog_reads_as_keep_a_changelog() -> None:
    releases = read_changelog((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert releases[0].version == "Unreleased"
    newest = releases[1]
    assert newest.released is not None and newest.released <= datetime.now(UTC).date()
    assert set(newest.sections) <= set(SECTIONS) and newest.sections["Added"]


def test_the_newest_release_in_the_changelog_is_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    releases = read_changelog((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert releases[1].version == pyproject["project"]["version"]


def test_a_well_formed_changelog_reads_with_its_dates_and_entries() -> None:
    releases = read_changelog(GOOD)
    assert [(r.version, r.released) for r in releases] == [
        ("Unreleased", None),
        ("0.2.0", date(2026, 12, 3)),
        ("0.1.0", date(2026, 11, 22)),
    ]
    assert releases[0].sections == {"Fixed": ["a fix on two lines"]}


@pytest.mark.parametrize(
    ("before", "after", "complaint"),
    [
        ("## [0.2.0] - 2026-12-03", "## 0.2.0 (2026/12/03)", "is not `## [X.Y.Z] - YYYY-MM-DD`"),
        ("## [0.2.0] - 2026-12-03", "## [0.2.0] - 2026-13-03", "is not a date"),
        ("## [0.2.0] - 2026-12-03", "## [0.0.9] - 2026-12-03", "is listed above"),
        ("## [0.1.0] - 2026-11-22", "## [0.1.0] - 2026-12-24", "is dated before"),
        ("### Added\n\n- b", "### Addded\n\n- b", "a section is one of"),
        (
            "## [Unreleased]\n\n### Fixed\n\n- a fix\n  on two lines\n",
            "",
            "the first version heading is `## [Unreleased]`",
        ),
        ("- b\n", "- b\n\n## [Unreleased]\n", "[Unreleased] comes first"),
        ("# Changelog", "# Change log", "starts with `# Changelog`"),
        ("- b\n", "", "has an empty section"),
    ],
)
def test_a_changelog_that_breaks_the_format_is_refused_by_line(
    before: str, after: str, complaint: str
) -> None:
    assert before in GOOD
    with pytest.raises(ChangelogError) as refused:
        read_changelog(GOOD.replace(before, after, 1))
    assert complaint in str(refused.value)
