"""One game day per module: its parts take seconds to start, and its tests read one story."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.gameday.world import GameDay


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    prometheus_bin: tuple[Path, Path], alertmanager_bin: Path
) -> AsyncIterator[GameDay]:
    """The game day's world, started (skipped without Prometheus and Alertmanager, failed
    under `CI=true`, as the harness's own fixtures do)."""
    with tempfile.TemporaryDirectory(prefix="herald-gameday-") as tmp:
        async with GameDay(base=Path(tmp)) as started:
            yield started
