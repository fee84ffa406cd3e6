"""The stakeholder digest as a Slack message: many releases stay within Block Kit's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.notes.digest import build_digest
from bot.domain.release.lifecycle import EventType
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.examples import example_manifest
from bot.slack.digest import digest_message
from standins.slack_limits import validate_blocks

SINCE = datetime(2025, 10, 2, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)


def deployed(n: int) -> Release:
    """Release n, deployed 6n seconds into the period, with a long customer-visible note."""
    m = Manifest.model_validate(
        {
            **example_manifest(),
            "id": f"rel-{n:04d}",
            "service": f"svc-{n % 7}",
            "version": f"1.{n}.0",
            "customer_visible": [f"note {n} " + "z" * 300],
        }
    )
    at = SINCE + timedelta(minutes=n * 0.1)
    return Release(
        m, m.digest(), m.created_at, state=EventType.DEPLOYED, times={EventType.DEPLOYED: at}
    )


def test_many_releases_stay_within_block_kit_limits() -> None:
    releases = [deployed(n) for n in range(600)]
    digest = build_digest(releases, since=SINCE, until=UNTIL)
    assert digest.shipped == 600
    message = digest_message(digest)
    blocks = message["blocks"]
    assert validate_blocks(blocks) == []
    assert len(blocks) == 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    shown = sum(b["text"]["text"].count("\n• ") for b in blocks[1:-1])
    assert blocks[-1]["text"]["text"] == f"…and {600 - shown} more releases"
    assert "600 releases shipped" in message["text"]
