"""Release notes from example manifests: sections, audiences, breaking changes, escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.notes.release_notes import (
    NotesAudience,
    Section,
    build_notes_for_release,
    build_release_notes,
    render_markdown,
)
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.examples import example_manifest
from bot.slack.notes import release_notes_message, render_notes_mrkdwn

DEPLOYED = datetime(2025, 10, 3, 9, 0, tzinfo=UTC)


def manifest(*changes: dict[str, Any], **extra: Any) -> Manifest:
    data = example_manifest()
    if changes:
        data["changes"] = list(changes)
    data.update(extra)
    return Manifest.model_validate(data)


def release(m: Manifest) -> Release:
    return Release(
        manifest=m,
        digest=m.digest(),
        received_at=m.created_at,
        state=EventType.DEPLOYED,
        times={EventType.DEPLOYED: DEPLOYED},
    )


MIXED = (
    {"type": "feat", "scope": "billing", "summary": "usage-based pricing", "issues": ["PROD-2142"]},
    {"type": "fix", "scope": "api", "summary": "timeout on /v1/orders", "issues": ["INC-881"]},
    {"type": "perf", "summary": "faster invoices"},
    {"type": "refactor", "summary": "split the billing module"},
    {"type": "deprecate", "summary": "v1 export endpoint"},
    {"type": "chore", "summary": "old CSV export", "deprecated": True},
    {"type": "remove", "summary": "legacy coupons"},
    {"type": "sec", "summary": "rotate session keys"},
    {"type": "docs", "summary": "README"},
    {"type": "ci", "summary": "cache uv"},
    {"type": "wip", "summary": "unknown type"},
)


def titles(notes: Any) -> list[str]:
    return [section.value for section, _ in notes.sections]


def test_example_manifest_internal_notes() -> None:
    notes = build_release_notes(manifest(), audience="internal")
    assert titles(notes) == ["Added"]
    text = render_markdown(notes)
    assert text.startswith("## [1.42.0] - 2025-10-02\n")
    assert "webapp · prod · rel-2025-10-02.3" in text
    assert "### Added\n- **billing:** usage-based pricing (PROD-2142)" in text
    assert "Behind flags: billing_pricing_v2" in text


def test_conventional_types_map_to_keep_a_changelog_sections_in_order() -> None:
    notes = build_release_notes(manifest(*MIXED), audience="internal")
    assert titles(notes) == [
        "Added",
        "Changed",
        "Deprecated",
        "Removed",
        "Fixed",
        "Security",
        "Other",
    ]
    by_section = {s: [e.summary for e in entries] for s, entries in notes.sections}
    assert by_section[Section.CHANGED] == [
        "faster invoices",
        "split the billing module",
        "unknown type",
    ]
    assert by_section[Section.DEPRECATED] == ["v1 export endpoint", "old CSV export"]
    assert by_section[Section.OTHER] == ["README", "cache uv"]


def test_external_notes_show_only_customer_visible_things() -> None:
    m = manifest(
        *MIXED,
        {"type": "docs", "summary": "new API guide", "customer_visible": True},
        {"type": "fix", "summary": "totals round correctly", "customer_visible": True},
        customer_visible=["Invoices now show usage per day"],
    )
    notes = build_release_notes(m, audience="external")
    assert titles(notes) == ["Changed", "Fixed"]
    assert [e.summary for e in notes.entries] == ["new API guide", "totals round correctly"]
    text = render_markdown(notes)
    assert "### Highlights\n- Invoices now show usage per day" in text
    for internal_only in ("PROD-2142", "rel-2025-10-02.3", "billing_pricing_v2", "cache uv"):
        assert internal_only not in text


def test_external_notes_of_the_example_are_empty_and_say_so() -> None:
    notes = build_release_notes(manifest(), audience="external")
    assert notes.is_empty
    assert "No customer-visible changes in this release." in render_markdown(notes)
    assert "No customer-visible changes in this release." in render_notes_mrkdwn(notes)


def test_internal_notes_without_changes_say_so() -> None:
    notes = build_release_notes(manifest(changes=[]), audience="internal")
    assert "No changes listed in the release manifest." in render_markdown(notes)


def test_breaking_changes_are_flagged_with_their_migration_note() -> None:
    m = manifest(
        {"type": "feat", "summary": "new auth", "breaking": True, "migration": "re-issue tokens"},
        {"type": "fix", "scope": "api!", "summary": "strict dates", "customer_visible": True},
        {"type": "refactor", "summary": "BREAKING CHANGE: drop py3.10"},
        {"type": "feat", "summary": "calm change"},
    )
    notes = build_release_notes(m, audience="internal")
    assert [e.summary for e in notes.breaking] == ["new auth", "drop py3.10", "strict dates"]
    markdown = render_markdown(notes)
    assert "**3 breaking changes: see below.**" in markdown
    assert "- **BREAKING:** new auth\n  - Migration: re-issue tokens" in markdown
    assert "- **BREAKING:** **api:** strict dates\n  - Migration: no migration note" in markdown
    assert "- calm change" in markdown
    slack = render_notes_mrkdwn(notes)
    assert ":warning: 3 breaking changes" in slack
    assert "• :warning: *Breaking:* new auth\n    Migration: re-issue tokens" in slack
    external = render_markdown(build_release_notes(m, audience="external"))
    assert "- **BREAKING:** strict dates\n" in external
    assert "no migration note" not in external


def test_slack_output_escapes_every_piece_of_manifest_text() -> None:
    m = manifest(
        {
            "type": "fix",
            "scope": "<@U1>",
            "summary": "<!channel> pay & go",
            "issues": ["<!here>"],
            "breaking": True,
            "migration": "see <https://evil|docs>",
            "customer_visible": True,
        },
        customer_visible=["<!everyone> look"],
        flags=["<!subteam^S1>"],
    )
    audiences: tuple[NotesAudience, ...] = ("internal", "external")
    for audience in audiences:
        notes = build_release_notes(m, audience=audience)
        for text in (render_notes_mrkdwn(notes), render_markdown(notes)):
            assert "<" not in text and ">" not in text
            assert "&lt;!channel&gt; pay &amp; go" in text
            assert "&lt;!everyone&gt; look" in text
        message = release_notes_message(notes)
        assert "<" not in str(message)
    internal = render_notes_mrkdwn(build_release_notes(m, audience="internal"))
    assert "&lt;@U1&gt;: &lt;!channel&gt; pay &amp; go (&lt;!here&gt;)" in internal
    assert "&lt;!subteam^S1&gt;" in internal


def test_render_release_notes_of_a_stored_release_is_dated_by_its_deploy() -> None:
    r = release(manifest())
    markdown = render_markdown(build_notes_for_release(r, audience="internal"))
    assert markdown.startswith("## [1.42.0] - 2025-10-03")
    slack = render_notes_mrkdwn(build_notes_for_release(r))
    assert slack.startswith("*Release notes: webapp v1.42.0 (prod)* · rel-2025-10-02.3")
    assert "*Added*\n• billing: usage-based pricing (PROD-2142)" in slack
