"""DORA end to end: releases posted to `herald serve`'s HTTP app, read back from
`GET /api/v1/dora`, printed by `herald dora` (a subprocess) and rendered for `/deploy metrics`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.domain.dora.report import compute_report
from bot.domain.dora.window import DoraWindow
from bot.examples import example_manifest
from bot.settings import Settings
from bot.slack.dora_view import dora_message
from tests.conftest import Herald, SettingsFactory, start_herald
from tests.domain.dora.histories import (
    END,
    WINDOW,
    Story,
    facts,
    failure_never_recovered,
    month_of_webapp,
    other_services,
)
from tests.herald_process import Finished, run_herald

STORIES = [*month_of_webapp(), *other_services()]


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
async def herald_at_end(settings: Settings) -> AsyncIterator[Herald]:
    """Herald whose clock stands at the end of the test window."""
    runner = await start_herald(settings, clock=lambda: END)
    async with aiohttp.ClientSession() as session:
        yield Herald(runner, session)
    await runner.cleanup()


async def post_story(herald: Herald, story: Story) -> None:
    manifest = example_manifest()
    first = min(at for _, at in story.events)
    manifest.update(
        id=story.id,
        service=story.service,
        env=story.env,
        created_at=first.isoformat(),
    )
    if story.risk:
        manifest["risk"] = story.risk
    if story.committed_at:
        manifest["changes"] = [
            {"type": "fix", "summary": "a fix", "committed_at": story.committed_at.isoformat()}
        ]
    status, body = await herald.post_manifest(manifest)
    assert status == 201, body
    for kind, at in story.events:
        event: dict[str, Any] = {"event": kind.value, "at": at.isoformat()}
        if kind.value == "release.deployed" and story.lead_time_seconds is not None:
            event["lead_time_seconds"] = story.lead_time_seconds
        status, body = await herald.post_event(story.id, **event)
        assert status == 201, body


async def post_all(herald: Herald, stories: list[Story]) -> None:
    for story in stories:
        await post_story(herald, story)


@pytest.mark.parametrize(
    ("query", "service", "env", "days"),
    [
        ("?service=webapp&env=prod&window=30d", "webapp", "prod", 30),
        ("", None, None, 30),  # defaults: all services, all envs, 30 days
        ("?service=api&window=4w&env=", "api", None, 28),
    ],
)
async def test_the_api_serves_the_pure_answers(
    herald_at_end: Herald, query: str, service: str | None, env: str | None, days: int
) -> None:
    await post_all(herald_at_end, STORIES)
    status, body = await herald_at_end.call("GET", f"/api/v1/dora{query}")
    assert status == 200, body
    window = DoraWindow.including(END, timedelta(days=days))
    expected = compute_report(facts(STORIES), window, service=service, env=env)
    assert body == json.loads(json.dumps(expected.as_dict()))


async def test_every_figure_has_its_count_enough_flag_and_trend(herald_at_end: Herald) -> None:
    await post_all(herald_at_end, failure_never_recovered())
    status, body = await herald_at_end.call("GET", "/api/v1/dora?env=prod")
    assert status == 200
    figures = body["figures"]
    assert figures["change_failure_rate"] | {"trend": None} == {
        "value": 1 / 6,
        "count": 6,
        "enough": True,
        "unit": "ratio",
        "needs": 5,
        "numerator": 1,
        "trend": None,
    }
    restore = figures["time_to_restore_median_s"]
    assert (restore["value"], restore["count"], restore["enough"]) == (None, 0, False)
    assert body["open_failures"] == 1
    asked_now = DoraWindow.including(END, WINDOW.length)  # END itself is inside the window
    assert body["window"] == {
        "start": asked_now.start.isoformat(),
        "end": asked_now.end.isoformat(),
        "days": 30.0,
        "label": "30d",
    }
    assert body["previous"]["figures"]["deploy_frequency_per_day"]["count"] == 0
    for figure in figures.values():
        assert {"value", "count", "enough", "unit", "trend"} <= set(figure)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?window=0d", "window"),
        ("?window=2y", "window"),
        ("?window=thirty", "window"),
        ("?service=Web%20App", "service"),
        ("?env=prod;drop", "env"),
    ],
)
async def test_bad_parameters_are_refused_with_the_field(
    herald: Herald, query: str, field: str
) -> None:
    status, body = await herald.call("GET", f"/api/v1/dora{query}")
    assert status == 422
    assert body["details"][0]["path"] == field


async def test_the_api_needs_the_bearer_token(herald: Herald) -> None:
    assert (await herald.call("GET", "/api/v1/dora", token=None))[0] == 401
    assert (await herald.call("GET", "/api/v1/dora", token="wrong"))[0] == 401


async def herald_dora(settings: Settings, *args: str) -> Finished:
    return await run_herald("dora", *args, env={"HERALD_DATABASE_URL": settings.database_url})


@pytest.mark.slow
async def test_herald_dora_prints_the_same_figures(
    herald_at_end: Herald, settings: Settings
) -> None:
    await post_all(herald_at_end, STORIES)
    end = ("--end", END.isoformat())
    printed = await herald_dora(settings, "--service", "webapp", "--env", "prod", *end)
    assert printed.code == 0, printed.err
    lines = printed.out.splitlines()
    assert lines[0] == "DORA · webapp · prod · last 30d"
    assert any(line.startswith("Change failure rate") and "30.0%" in line for line in lines)
    assert any("3 failed of 10 deploys" in line for line in lines)
    assert any(line.startswith("Deployment frequency ") and "↑ from" in line for line in lines)
    assert any(line.startswith("Time to restore, median") and "1h" in line for line in lines)
    assert any(line.startswith("Cadence (fourkeys)") and "weekly" in line for line in lines)

    printed = await herald_dora(settings, "--window", "30d", "--json", *end)
    assert printed.code == 0, printed.err
    assert json.loads(printed.out) == json.loads(
        json.dumps(compute_report(facts(STORIES), WINDOW).as_dict())
    )


@pytest.mark.slow
async def test_herald_dora_explains_what_is_wrong(settings: Settings, tmp_path: Any) -> None:
    bad = await herald_dora(settings, "--window", "1y")
    assert bad.code == 2 and "window '1y'" in bad.err
    missing = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'none.db'}"})
    absent = await herald_dora(missing)
    assert absent.code == 1 and "herald db upgrade" in absent.err
    assert not (tmp_path / "none.db").exists()


def test_the_slack_message_shows_each_figure_or_not_enough_data() -> None:
    report = compute_report(facts(failure_never_recovered()), WINDOW, env="prod")
    message = dora_message(report)
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "DORA · all services · prod · last 30d"},
    }
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert [s.splitlines()[0] for s in sections] == [
        "*Deployment frequency*",
        "*Lead time for changes*",
        "*Change failure rate*",
        "*Time to restore*",
        "*Rework rate*",
        "*Rollback rehearsed*",
    ]
    assert "↑ from 0.00/day, better" in sections[0]
    assert "*16.7%* · 1 failed of 6 deploys" in sections[2]
    assert "_not enough data_ · 0 restores, needs 3" in sections[3]
    assert "1 failure(s) not recovered yet" in sections[3]
    assert "p90 _not enough data_ · 6 lead times, needs 10" in sections[1]
    assert len(blocks) <= 50 and all(len(s) <= 3000 for s in sections)
    assert "*" not in message["text"]
