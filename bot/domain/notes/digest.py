"""The stakeholder digest: what happened to releases in a period, in plain language
(docs/design.md §3).

Per service and env, one line per release that shipped, failed, was rolled back or recovered
in the period [since, until): "Release v1.42.0 (prod) shipped. Customer-visible: … New
behaviour is behind flag billing_pricing_v2 (25 % of users). For support: …", and for a
failure what went wrong and whether it is fixed (rolled back or recovered) by `until`.
Customer-visible means the manifest's `customer_visible` notes plus its changes marked
`"customer_visible": true`. Flag rollouts come from the optional manifest extra
`flags_rollout: {"flag": 25}`. The model holds plain text, rendered here as plain text for
the CLI; the Slack message (which escapes it) is built in bot/slack/digest.py. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.notes.release_notes import is_customer_visible
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.domain.text import display_version, format_duration

ACTIVITY = (EventType.DEPLOYED, EventType.FAILED, EventType.ROLLED_BACK, EventType.RECOVERED)
"""The events that put a release into a period's digest."""


@dataclass(frozen=True)
class DigestLine:
    """One release's story in the period, as plain sentences."""

    at: datetime
    release_id: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True)
class DigestGroup:
    service: str
    env: str
    lines: tuple[DigestLine, ...]

    @property
    def title(self) -> str:
        return f"{self.service} ({self.env})"


@dataclass(frozen=True)
class Digest:
    since: datetime
    until: datetime
    groups: tuple[DigestGroup, ...]
    shipped: int = 0
    failed: int = 0
    failed_fixed: int = 0
    earlier_fixed: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def releases(self) -> int:
        return sum(len(group.lines) for group in self.groups)

    @property
    def period(self) -> str:
        return f"{when(self.since)} and {when(self.until)}"

    def summary(self) -> str:
        """One or two sentences: how many shipped, failed and were fixed."""
        if self.shipped:
            text = f"{_count(self.shipped, 'release')} shipped between {self.period}."
        else:
            text = f"No releases shipped between {self.period}."
        if self.failed:
            open_ = self.failed - self.failed_fixed
            parts = [f"{self.failed_fixed} fixed"] if self.failed_fixed else []
            parts += [f"{open_} not fixed yet"] if open_ else []
            text += f" {_count(self.failed, 'release')} failed: {', '.join(parts)}."
        if self.earlier_fixed:
            text += f" {_count(self.earlier_fixed, 'earlier failure')} fixed."
        return text


def period_ending(until: datetime, *, days: float = 1) -> tuple[datetime, datetime]:
    """The `days` before `until`: the daily digest's default window."""
    return until - timedelta(days=days), until


def build_digest(
    releases: Iterable[Release],
    *,
    since: datetime,
    until: datetime,
    symptoms: Mapping[str, str] | None = None,
) -> Digest:
    """The digest of `releases` over [since, until); `symptoms` maps a release id to what its
    release.failed event said went wrong. Releases with no activity in the period are left out.
    """
    symptoms = symptoms or {}
    groups: dict[tuple[str, str], list[DigestLine]] = {}
    shipped = failed = failed_fixed = earlier_fixed = 0
    for release in releases:
        times = {event: release.times[event] for event in ACTIVITY if event in release.times}
        inside = [at for at in times.values() if since <= at < until]
        if not inside:
            continue
        story = _Story(release, since=since, until=until, symptom=symptoms.get(release.id))
        line = DigestLine(at=min(inside), release_id=release.id, sentences=story.sentences())
        groups.setdefault((release.service, release.env), []).append(line)
        shipped += int(story.shipped)
        failed += int(story.failed_inside)
        failed_fixed += int(story.failed_inside and story.fixed)
        earlier_fixed += int(story.failed_before and story.fixed_inside)
    return Digest(
        since=since,
        until=until,
        groups=tuple(
            DigestGroup(service, env, tuple(sorted(lines, key=lambda line: line.at)))
            for (service, env), lines in sorted(groups.items())
        ),
        shipped=shipped,
        failed=failed,
        failed_fixed=failed_fixed,
        earlier_fixed=earlier_fixed,
    )


class _Story:
    """What one release did in the period, told in sentences."""

    def __init__(
        self, release: Release, *, since: datetime, until: datetime, symptom: str | None
    ) -> None:
        self.release = release
        self.symptom = symptom
        self.times = {e: at for e, at in release.times.items() if at < until}
        self.since = since
        deployed = self.times.get(EventType.DEPLOYED)
        failed = self.times.get(EventType.FAILED)
        self.shipped = deployed is not None and deployed >= since
        self.failed_inside = failed is not None and failed >= since
        self.failed_before = failed is not None and failed < since
        self.fixed = EventType.ROLLED_BACK in self.times or EventType.RECOVERED in self.times
        self.fixed_inside = any(
            at >= since
            for event, at in self.times.items()
            if event in (EventType.ROLLED_BACK, EventType.RECOVERED)
        )

    @property
    def name(self) -> str:
        return f"Release {display_version(self.release.version)} ({self.release.env})"

    def sentences(self) -> tuple[str, ...]:
        manifest = self.release.manifest
        out: list[str] = []
        if self.shipped:
            out.append(f"{self.name} shipped.")
            visible = customer_visible(manifest)
            out.append(
                f"Customer-visible: {'; '.join(visible)}."
                if visible
                else "No customer-visible changes."
            )
            if manifest.flags:
                out.append(f"New behaviour is behind {_and(flag_phrases(manifest))}.")
            out += [f"For support: {_sentence(note)}" for note in manifest.support]
        if self.failed_inside or self.failed_before:
            out += self._failure()
        return tuple(_sentence(text) for text in out)

    def _failure(self) -> list[str]:
        what = f": {self.symptom}" if self.symptom else ""
        if self.failed_before:
            failed_at = self.times[EventType.FAILED]
            head = f"{self.name} failed earlier, on {when(failed_at)}{what}."
        elif self.shipped:
            head = f"It then failed{what}."
        elif EventType.DEPLOYED in self.times:
            head = f"{self.name} failed{what}."
        else:
            head = f"{self.name} failed while rolling out{what}."
        return [head, self._fix()]

    def _fix(self) -> str:
        rolled_back = EventType.ROLLED_BACK in self.times
        recovered = self.times.get(EventType.RECOVERED)
        target = self.release.rollback_target
        back = f"rolled back to {display_version(target)}" if target else "rolled back"
        if recovered is not None:
            after = format_duration((recovered - self.times[EventType.FAILED]).total_seconds())
            how = f"{back} and recovered" if rolled_back else "recovered"
            return f"Fixed: {how} after {after}."
        if rolled_back:
            return f"Fixed: {back}."
        return "Not fixed yet."


def customer_visible(manifest: Manifest) -> list[str]:
    """The manifest's customer-visible notes, then its changes marked customer-visible."""
    seen: dict[str, None] = dict.fromkeys(manifest.customer_visible)
    seen.update(dict.fromkeys(c.summary for c in manifest.changes if is_customer_visible(c)))
    return [text.rstrip(".") for text in seen]


def flag_rollouts(manifest: Manifest) -> dict[str, float]:
    """The optional extra `flags_rollout: {"flag": 25}`; malformed entries are ignored."""
    raw: Any = (manifest.model_extra or {}).get("flags_rollout")
    if not isinstance(raw, dict):
        return {}
    return {
        str(flag): float(value)
        for flag, value in raw.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100
    }


def flag_phrases(manifest: Manifest) -> list[str]:
    """`flag billing_pricing_v2 (25 % of users)`, or `flag X` when its rollout is unknown."""
    rollouts = flag_rollouts(manifest)
    phrases = []
    for flag in manifest.flag_keys():
        share = rollouts.get(flag)
        if share is None:
            phrases.append(f"flag {flag}")
        elif share == 0:
            phrases.append(f"flag {flag} (off for all users)")
        elif share == 100:
            phrases.append(f"flag {flag} (on for all users)")
        else:
            phrases.append(f"flag {flag} ({share:g} % of users)")
    return phrases


# -- rendering -------------------------------------------------------------------------------


def render_digest_text(digest: Digest) -> str:
    """Plain text for the CLI."""
    if digest.is_empty:
        return digest.summary() + "\n"
    lines = ["Release digest", digest.summary()]
    for group in digest.groups:
        lines += ["", group.title]
        lines += [f"- {when(line.at, short=True)}: {line.text}" for line in group.lines]
    return "\n".join(lines) + "\n"


def when(at: datetime, *, short: bool = False) -> str:
    """`Thu 2 Oct 2025, 20:30 UTC` (short: `Thu 2 Oct, 20:30 UTC`)."""
    utc = at.astimezone(UTC)
    year = "" if short else f" {utc.year}"
    return f"{utc:%a} {utc.day} {utc:%b}{year}, {utc:%H:%M} UTC"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."
