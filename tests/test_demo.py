"""`herald demo` runs offline, end to end, and shows what each channel would show."""

from __future__ import annotations

import asyncio
import sys

import pytest

pytestmark = pytest.mark.slow


async def test_demo_plays_the_whole_release() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, err.decode()
    feed = text[text.index("━━ #release-feed ━━") : text.index("━━ #release-ops ━━")]
    ops = text[text.index("━━ #release-ops ━━") :]
    for event in ("planned", "started", "deployed", "failed", "rolled_back", "recovered"):
        assert f"release.{event} | webapp | prod | v1.42.0 (rel-2025-10-02.3)" in feed
    assert "Rollout: Paused · step 2 of 5, weight 20%" in text
    assert "→ step 4 of 5, weight 50%" in text
    assert "Aborted the canary of `webapp` prod" in text
    assert ops.count(":warning: release.failed") == 1
    assert "Time to recover: 12m" in ops
    assert "Traceback" not in err.decode()
