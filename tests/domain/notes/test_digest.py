"""The stakeholder digest from example manifests: plain sentences, escaping, empty periods,
failures and whether they are fixed, and Block Kit limits with many releases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.notes.digest import build_digest, period_ending, render_digest_text
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.examples import example_manifest
from bot.slack.digest import digest_message
from standins.slack_limits import validate_blocks

SINCE = datetime(2025, 10, 2, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)
E = EventType


def manifest(**overrides: Any) -> Manifest:
    data = example_manifest()
    data.update(overrides)
    return Manifest.model_validate(data)


def release(m: Manifest | None = None, **times: datetime) -> Release:
    """A release with event times given as started=…, deployed=…, failed=…, recovered=…"""
    m = m or manifest()
    events = {E(f"release.{name}"): at for name, at in times.items()}
    last = max(events, key=lambda event: events[event]) if events else None
    return Release(m, m.digest(), m.created_at, state=last, times=events)


def at(hours: float, minutes: float = 0) -> datetime:
    return SINCE + timedelta(hours=hours, minutes=minutes)


def test_example_release_shipped_in_plain_language() -> None:
    digest = build_digest([release(deployed=at(20, 30))], since=SINCE, until=UNTIL)
    assert (digest.shipped, digest.failed, digest.releases) == (1, 0, 1)
    text = render_digest_text(digest)
    assert text.splitlines()[:2] == [
        "Release digest",
        "1 release shipped between Thu 2 Oct 2025, 00:00 UTC and Fri 3 Oct 2025, 00:00 UTC.",
    ]
    assert (
        "webapp (prod)\n- Thu 2 Oct, 20:30 UTC: Release v1.42.0 (prod) shipped. "
        "No customer-visible changes. New behaviour is behind flag billing_pricing_v2.\n"
    ) in text


def test_customer_visible_changes_flag_rollouts_and_support_notes() -> None:
    m = manifest(
        changes=[
            {"type": "feat", "summary": "usage-based pricing", "customer_visible": True},
            {"type": "chore", "summary": "bump deps"},
        ],
        customer_visible=["Invoices show usage per day."],
        support=["Annual plans are not affected", "Refunds go through billing"],
        flags=["billing_pricing_v2", "checkout_v3", "dark_mode", "old_ui"],
        flags_rollout={"billing_pricing_v2": 25, "dark_mode": 100, "old_ui": 0, "bad": "x"},
    )
    line = build_digest([release(m, deployed=at(9))], since=SINCE, until=UNTIL).groups[0].lines[0]
    assert line.sentences == (
        "Release v1.42.0 (prod) shipped.",
        "Customer-visible: Invoices show usage per day; usage-based pricing.",
        "New behaviour is behind flag billing_pricing_v2 (25 % of users), flag checkout_v3, "
        "flag dark_mode (on for all users) and flag old_ui (off for all users).",
        "For support: Annual plans are not affected.",
        "For support: Refunds go through billing.",
    )
    assert "bump deps" not in line.text


def test_empty_period() -> None:
    outside = release(deployed=SINCE - timedelta(seconds=1))
    at_end = release(manifest(id="rel-later"), deployed=UNTIL)  # the period is [since, until)
    digest = build_digest([outside, at_end], since=SINCE, until=UNTIL)
    assert digest.is_empty
    expected = (
        "No releases shipped between Thu 2 Oct 2025, 00:00 UTC and Fri 3 Oct 2025, 00:00 UTC."
    )
    assert render_digest_text(digest) == expected + "\n"
    message = digest_message(digest)
    assert expected in message["text"]
    assert len(message["blocks"]) == 1
    assert validate_blocks(message["blocks"]) == []


def test_failures_say_whether_they_are_fixed() -> None:
    rolled = release(
        manifest(id="rel-a", service="api", version="2.0.0"),
        deployed=at(1),
        failed=at(2),
        rolled_back=at(2, 5),
        recovered=at(2, 25),
    )
    forward = release(
        manifest(id="rel-b", service="api", version="2.0.1"), started=at(2, 50), failed=at(3)
    )
    still_broken = release(
        manifest(id="rel-c", version="1.43.0", rollback={"strategy": "abort"}),
        deployed=SINCE - timedelta(days=2),
        failed=at(5),
        rolled_back=UNTIL + timedelta(minutes=1),  # after the period: not known yet
    )
    earlier = release(
        manifest(id="rel-d", env="staging"),
        deployed=SINCE - timedelta(days=1),
        failed=SINCE - timedelta(hours=2),
        recovered=at(1),
    )
    digest = build_digest(
        [rolled, forward, still_broken, earlier],
        since=SINCE,
        until=UNTIL,
        symptoms={"rel-a": "spike in 5xx on /checkout", "rel-d": "queue backlog"},
    )
    assert (digest.shipped, digest.failed, digest.failed_fixed, digest.earlier_fixed) == (
        1,
        3,
        1,
        1,
    )
    assert digest.summary().endswith(
        "3 releases failed: 1 fixed, 2 not fixed yet. 1 earlier failure fixed."
    )
    lines = {line.release_id: line.text for group in digest.groups for line in group.lines}
    assert lines["rel-a"].endswith(
        "It then failed: spike in 5xx on /checkout. "
        "Fixed: rolled back to v1.41.3 and recovered after 25m."
    )
    assert lines["rel-b"] == "Release v2.0.1 (prod) failed while rolling out. Not fixed yet."
    assert lines["rel-c"] == "Release v1.43.0 (prod) failed. Not fixed yet."
    assert lines["rel-d"] == (
        "Release v1.42.0 (staging) failed earlier, on Wed 1 Oct 2025, 22:00 UTC: queue backlog. "
        "Fixed: recovered after 3h."
    )
    titles = [group.title for group in digest.groups]
    assert titles == ["api (prod)", "webapp (prod)", "webapp (staging)"]


def test_rolled_back_counts_as_fixed() -> None:
    r = release(deployed=at(1), failed=at(2), rolled_back=at(2, 10))
    digest = build_digest([r], since=SINCE, until=UNTIL)
    assert digest.failed_fixed == 1
    assert digest.groups[0].lines[0].text.endswith("Fixed: rolled back to v1.41.3.")


def test_slack_digest_escapes_manifest_and_event_text() -> None:
    m = manifest(
        service="web-app",
        changes=[{"type": "feat", "summary": "<!channel> & free", "customer_visible": True}],
        customer_visible=["<@U123> look"],
        support=["ping <!here>"],
        flags=["<!everyone>"],
    )
    r = release(m, deployed=at(10), failed=at(11))
    digest = build_digest([r], since=SINCE, until=UNTIL, symptoms={r.id: "<https://x|y> down"})
    message = digest_message(digest)
    assert validate_blocks(message["blocks"]) == []
    rendered = str(message)
    assert "<" not in rendered and ">" not in rendered
    body = message["blocks"][1]["text"]["text"]
    assert body.startswith("*web-app (prod)*\n• _Thu 2 Oct, 10:00 UTC_ Release v1.42.0 (prod)")
    for escaped in (
        "&lt;!channel&gt; &amp; free",
        "&lt;@U123&gt; look",
        "ping &lt;!here&gt;",
        "flag &lt;!everyone&gt;",
        "It then failed: &lt;https://x|y&gt; down.",
    ):
        assert escaped in body
    assert "<!channel> & free" in render_digest_text(digest)  # plain text is not mrkdwn


def test_one_release_with_huge_notes_is_cut_to_one_section() -> None:
    m = manifest(customer_visible=[f"note {n} " + "q" * 480 for n in range(100)])
    digest = build_digest([release(m, deployed=at(1))], since=SINCE, until=UNTIL)
    blocks = digest_message(digest)["blocks"]
    assert validate_blocks(blocks) == []
    assert len(blocks[1]["text"]["text"]) == 3000
    assert blocks[1]["text"]["text"].endswith("…")
    assert "note 99" in render_digest_text(digest)  # the CLI text is not cut


def test_period_ending() -> None:
    assert period_ending(UNTIL, days=7) == (UNTIL - timedelta(days=7), UNTIL)
