"""Release notes from a manifest's Conventional Commit types, in Keep a Changelog sections.

Two audiences:
- internal: every change (including docs/test/chore/ci/build/style under "Other"), its
  scope and issue keys, the flags, and breaking changes with their migration note.
- external: the manifest's `customer_visible` notes (as "Highlights") plus only the changes
  marked `"customer_visible": true`; no scopes, issue keys, flags or internal-only types.

A change is breaking when it says `"breaking": true`, its type or scope ends with `!`
(`feat(api)!`), or its summary starts with `BREAKING CHANGE:`. Its migration note is the
change's extra field `migration`. The renderer here is Markdown (for CHANGELOG.md; `&`, `<`,
`>` become HTML entities, so no raw HTML gets in); the Slack ones are in bot/slack/notes.py.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Change, Manifest
from bot.domain.release.model import Release
from bot.domain.text import display_version

NotesAudience = Literal["internal", "external"]
_BREAKING_PREFIXES = ("BREAKING CHANGE:", "BREAKING-CHANGE:")


class Section(StrEnum):
    """Keep a Changelog sections, in its order, plus "Other" for internal-only types."""

    ADDED = "Added"
    CHANGED = "Changed"
    DEPRECATED = "Deprecated"
    REMOVED = "Removed"
    FIXED = "Fixed"
    SECURITY = "Security"
    OTHER = "Other"


SECTION_OF_TYPE: dict[str, Section] = {
    "feat": Section.ADDED,
    "feature": Section.ADDED,
    "fix": Section.FIXED,
    "bugfix": Section.FIXED,
    "perf": Section.CHANGED,
    "refactor": Section.CHANGED,
    "revert": Section.CHANGED,
    "deprecate": Section.DEPRECATED,
    "deprecated": Section.DEPRECATED,
    "deprecation": Section.DEPRECATED,
    "remove": Section.REMOVED,
    "removed": Section.REMOVED,
    "removal": Section.REMOVED,
    "security": Section.SECURITY,
    "sec": Section.SECURITY,
    "docs": Section.OTHER,
    "doc": Section.OTHER,
    "test": Section.OTHER,
    "tests": Section.OTHER,
    "chore": Section.OTHER,
    "ci": Section.OTHER,
    "build": Section.OTHER,
    "style": Section.OTHER,
}
"""Types not listed here are changes of some kind: they go under Changed."""


def section_of(change: Change) -> Section:
    """The Keep a Changelog section of one change; `deprecated: true` wins over its type."""
    if _extra(change, "deprecated") is True:
        return Section.DEPRECATED
    return SECTION_OF_TYPE.get(change.type.rstrip("!"), Section.CHANGED)


def is_breaking(change: Change) -> bool:
    return (
        change.breaking
        or change.type.endswith("!")
        or (change.scope or "").endswith("!")
        or change.summary.upper().startswith(_BREAKING_PREFIXES)
    )


def is_customer_visible(change: Change) -> bool:
    """Only an explicit `"customer_visible": true` on the change makes it external."""
    return _extra(change, "customer_visible") is True


def migration_note(change: Change) -> str | None:
    note = _extra(change, "migration")
    return (note.strip() or None) if isinstance(note, str) else None


@dataclass(frozen=True)
class Entry:
    """One change as the notes show it."""

    section: Section
    summary: str
    scope: str | None = None
    issues: tuple[str, ...] = ()
    breaking: bool = False
    migration: str | None = None


@dataclass(frozen=True)
class ReleaseNotes:
    release_id: str
    service: str
    env: str
    version: str
    released_on: datetime
    audience: NotesAudience
    highlights: tuple[str, ...]
    sections: tuple[tuple[Section, tuple[Entry, ...]], ...]
    flags: tuple[str, ...] = ()

    @property
    def entries(self) -> list[Entry]:
        return [entry for _, entries in self.sections for entry in entries]

    @property
    def breaking(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.breaking]

    @property
    def is_empty(self) -> bool:
        return not self.highlights and not self.sections

    @property
    def title(self) -> str:
        return f"{self.service} {display_version(self.version)} ({self.env})"

    @property
    def empty_text(self) -> str:
        if self.audience == "external":
            return "No customer-visible changes in this release."
        return "No changes listed in the release manifest."


def build_release_notes(
    manifest: Manifest, *, audience: NotesAudience = "internal", released_on: datetime | None = None
) -> ReleaseNotes:
    """The notes of one manifest for one audience (see the module docstring)."""
    external = audience == "external"
    grouped: dict[Section, list[Entry]] = {}
    for change in manifest.changes:
        section = section_of(change)
        if external and not is_customer_visible(change):
            continue
        if external and section is Section.OTHER:
            section = Section.CHANGED  # a docs change marked customer-visible is still a change
        grouped.setdefault(section, []).append(_entry(change, section, external=external))
    return ReleaseNotes(
        release_id=manifest.id,
        service=manifest.service_name,
        env=manifest.env,
        version=manifest.version,
        released_on=released_on or manifest.created_at,
        audience=audience,
        highlights=tuple(manifest.customer_visible),
        sections=tuple((s, tuple(grouped[s])) for s in Section if s in grouped),
        flags=() if external else tuple(manifest.flag_keys()),
    )


def build_notes_for_release(
    release: Release, *, audience: NotesAudience = "internal"
) -> ReleaseNotes:
    """A stored release's notes, dated by its deploy (else by its manifest)."""
    released_on = release.times.get(EventType.DEPLOYED)
    return build_release_notes(release.manifest, audience=audience, released_on=released_on)


def _entry(change: Change, section: Section, *, external: bool) -> Entry:
    summary = change.summary
    for prefix in _BREAKING_PREFIXES:
        if summary.upper().startswith(prefix):
            summary = summary[len(prefix) :].strip() or summary
    scope = (change.scope or "").rstrip("!") or None
    return Entry(
        section=section,
        summary=summary,
        scope=None if external else scope,
        issues=() if external else tuple(change.issues),
        breaking=is_breaking(change),
        migration=migration_note(change),
    )


def _extra(change: Change, name: str) -> Any:
    return (change.model_extra or {}).get(name)


# -- Markdown --------------------------------------------------------------------------------


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _md(text: str) -> str:
    """`&`, `<` and `>` as HTML entities: no raw HTML gets into the rendered Markdown."""
    return text.translate(_HTML_ESCAPES)


def render_markdown(notes: ReleaseNotes) -> str:
    """A Keep a Changelog entry: `## [1.42.0] - 2025-10-02`, then `### Added` …"""
    lines = [f"## [{_md(notes.version)}] - {notes.released_on.date().isoformat()}"]
    if notes.audience == "internal":
        lines += ["", f"{_md(notes.service)} · {_md(notes.env)} · {_md(notes.release_id)}"]
    if notes.breaking:
        count = len(notes.breaking)
        lines += ["", f"**{count} breaking change{'s' if count != 1 else ''}: see below.**"]
    if notes.highlights:
        lines += ["", "### Highlights", *(f"- {_md(text)}" for text in notes.highlights)]
    for section, entries in notes.sections:
        lines += ["", f"### {section.value}"]
        for entry in entries:
            lines += _markdown_entry(entry, internal=notes.audience == "internal")
    if notes.flags:
        lines += ["", "Behind flags: " + ", ".join(_md(flag) for flag in notes.flags)]
    if notes.is_empty:
        lines += ["", notes.empty_text]
    return "\n".join(lines) + "\n"


def _markdown_entry(entry: Entry, *, internal: bool) -> list[str]:
    text = _md(entry.summary)
    if entry.scope:
        text = f"**{_md(entry.scope)}:** {text}"
    if entry.breaking:
        text = f"**BREAKING:** {text}"
    if entry.issues:
        text += f" ({', '.join(_md(issue) for issue in entry.issues)})"
    lines = [f"- {text}"]
    if entry.breaking and entry.migration:
        lines.append(f"  - Migration: {_md(entry.migration)}")
    elif entry.breaking and internal:
        lines.append("  - Migration: no migration note in the manifest")
    return lines
