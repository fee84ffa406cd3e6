"""`herald demo` runs offline, end to end, and shows what each channel would show."""

from __future__ import annotations

import pytest

from tests.herald_process import run_herald

pytestmark = pytest.mark.slow


async def test_demo_plays_the_whole_release() -> None:
    demo = await run_herald("demo", within=60)
    text = demo.out
    assert demo.code == 0, demo.err
    feed = text[text.index("━━ #release-feed ━━") : text.index("━━ #release-ops ━━")]
    ops = text[text.index("━━ #release-ops ━━") :]
    for event in ("planned", "started", "deployed", "failed", "rolled_back", "recovered"):
        assert f"release.{event} | webapp | prod | v1.42.0 (rel-2025-10-02.3)" in feed
    assert "Rollout: Paused · step 2 of 5, weight 20%" in text
    assert "late:" not in text  # the demo's checkups run on time
    assert "→ step 4 of 5, weight 50%" in text
    assert ":large_green_circle: Checkup +15m of rel-2025-10-02.3: *GREEN*" in text
    assert ":red_circle: Checkup +30m of rel-2025-10-02.3: *RED*" in text
    assert "Aborted the canary of `webapp` prod" in ops  # Herald's own rollback, in the thread
    assert (  # the confirmed one
        "Rolled `webapp` prod back to revision 1a2b3c4 (Argo CD `webapp-prod` history #11)." in text
    )
    assert "Turned automated sync OFF" in text
    assert ops.count(":warning: release.failed") == 1
    assert "Time to recover:" in ops
    pages = text[text.index("━━ PagerDuty ━━") :]
    assert pages.count("trigger") == 1 and pages.count("resolve") == 1
    assert "Traceback" not in demo.err
