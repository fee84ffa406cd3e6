"""DORA on hand-built histories with known answers (bot.domain.dora, pure).

The histories live in tests/domain/dora/histories.py; tests/store/test_dora.py stores the
same ones and computes them in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.dora.reference import ReleaseFacts, WindowCounts, count_window, percentile
from bot.domain.dora.report import (
    CadenceFigure,
    Direction,
    DoraReport,
    Figure,
    build_report,
    compute_report,
    frequency_bucket,
    trend,
)
from bot.domain.dora.window import Cadence, DoraWindow, parse_window
from bot.domain.release.manifest import Manifest
from bot.domain.release.model import Release
from bot.errors import InvalidInput
from bot.examples import example_manifest
from tests.domain.dora.histories import (
    DAY,
    END,
    HISTORIES,
    HOUR,
    START,
    WINDOW,
    ZONES,
    E,
    Story,
    across_the_window_edges,
    commit_lead_times,
    deploy,
    facts,
    failure_never_recovered,
    month_of_webapp,
    rollback_counted_once,
    several_failures_of_one_release,
    sub_second_instants,
)


def report(stories: list[Story], **kwargs: str | None) -> DoraReport:
    return compute_report(facts(stories), WINDOW, **kwargs)


# -- known answers -----------------------------------------------------------------------


def test_no_deploys_gives_zero_frequency_and_not_enough_data_elsewhere() -> None:
    r = report([])
    assert r.deploy_frequency_per_day == Figure(0.0, 0, True, "per day")
    assert r.deploy_frequency_per_week.value == 0.0
    assert r.frequency_bucket == CadenceFigure(Cadence.YEARLY, 0, True, 4, 1)
    for fig in (
        r.lead_time_median_s,
        r.lead_time_p90_s,
        r.change_failure_rate,
        r.time_to_restore_median_s,
        r.rework_rate,
        r.rollback_rehearsed_rate,
    ):
        assert fig.value is None and not fig.enough and fig.count == 0
    assert r.open_failures == 0
    assert r.previous is not None and r.previous.deploy_frequency_per_day.count == 0
    directions = {name: t.direction for name, t in r.trends().items()}
    assert directions == {  # nothing to compare where either window has too little data
        "deploy_frequency_per_day": Direction.FLAT,
        "deploy_frequency_per_week": Direction.FLAT,
        "lead_time_median_s": None,
        "lead_time_p90_s": None,
        "change_failure_rate": None,
        "time_to_restore_median_s": None,
        "rework_rate": None,
        "rollback_rehearsed_rate": None,
    }


def test_a_month_of_webapp() -> None:
    r = report(month_of_webapp(), service="webapp", env="prod")
    assert r.deploy_frequency_per_day.value == pytest.approx(10 / 30)
    assert r.deploy_frequency_per_week.value == pytest.approx(10 / 30 * 7)
    assert r.deploy_frequency_per_day.count == 10
    assert r.frequency_bucket.value is Cadence.WEEKLY
    assert r.frequency_bucket.count == 10
    assert r.lead_time_median_s == Figure(5500.0, 10, True, "seconds", 5)
    assert r.lead_time_p90_s.value == pytest.approx(9100.0)
    assert r.change_failure_rate == Figure(0.3, 10, True, "ratio", 5, 3)
    assert r.rework_rate == Figure(0.2, 10, True, "ratio", 5, 2)  # hotfix + rollback
    assert r.time_to_restore_median_s == Figure(3600.0, 3, True, "seconds", 3)
    assert r.open_failures == 0
    prev = r.previous
    assert prev is not None and prev.window == WINDOW.previous()
    assert prev.deploy_frequency_per_day.count == 4
    assert prev.change_failure_rate.enough is False  # 4 deploys < 5
    trends = r.trends()
    assert trends["deploy_frequency_per_day"].direction is Direction.UP
    assert trends["deploy_frequency_per_day"].better is True
    assert trends["change_failure_rate"].direction is None  # nothing to compare with


def test_a_failure_never_recovered_counts_as_failed_but_has_no_restore_time() -> None:
    r = report(failure_never_recovered())
    assert r.change_failure_rate == Figure(1 / 6, 6, True, "ratio", 5, 1)
    assert r.time_to_restore_median_s == Figure(None, 0, False, "seconds", 3)
    assert r.open_failures == 1
    assert r.rework_rate.numerator == 0  # failed, not rolled back, not a hotfix


def test_a_rolled_back_hotfix_is_one_failed_deploy_and_one_rework() -> None:
    r = report(rollback_counted_once())
    assert r.change_failure_rate == Figure(0.2, 5, True, "ratio", 5, 1)
    assert r.rework_rate == Figure(0.2, 5, True, "ratio", 5, 1)
    assert r.time_to_restore_median_s.count == 1  # one restore: not enough for a median
    assert r.time_to_restore_median_s.value is None


def test_several_failures_of_one_release_count_once_from_the_first() -> None:
    stories = several_failures_of_one_release()
    r = report(stories)
    assert r.change_failure_rate.numerator == 1
    assert r.change_failure_rate.value == pytest.approx(0.2)
    counts = count_window(facts(stories), WINDOW)
    assert (counts.failures, counts.restores) == (1, 1)
    assert counts.restore_median == 60 * 60  # first failure → recovered: 60 min


def test_releases_across_a_window_edge() -> None:
    stories = across_the_window_edges()
    counts = count_window(facts(stories), WINDOW)
    # in: edge-start, edge-last, edge-late-fail and the 3 in the middle
    assert counts.deploys == 6
    assert counts.deploy_days[0] == 2  # edge-last and edge-late-fail, in the last 24 hours
    assert counts.deploy_days[29] == 1  # edge-start, in the first 24 hours
    assert counts.failed_deploys == 1  # edge-late-fail (failed after the window)
    assert (counts.failures, counts.restores, counts.restore_median) == (1, 1, 3600.0)
    before = count_window(facts(stories), WINDOW.previous())
    assert before.deploys == 2  # edge-before, edge-old-fail
    assert before.deploy_days[0] == 2
    assert before.failures == 0


def test_lead_time_from_commit_timestamps_drops_missing_and_zero() -> None:
    r = report(commit_lead_times())
    hours = [2 * (i + 1) * 3600.0 for i in range(6)]
    assert r.lead_time_median_s == Figure(percentile(hours, 0.5), 6, True, "seconds", 5)
    assert r.lead_time_median_s.value == 7 * 3600.0
    assert r.lead_time_p90_s == Figure(None, 6, False, "seconds", 10)
    assert r.deploy_frequency_per_day.count == 8


def test_sub_second_restores() -> None:
    r = report(sub_second_instants())
    restores = sorted(
        (s.facts().recovered_at - s.facts().failed_at).total_seconds()  # type: ignore[operator]
        for s in sub_second_instants()
    )
    assert r.time_to_restore_median_s.value == percentile(restores, 0.5)
    assert r.time_to_restore_median_s.value != round(r.time_to_restore_median_s.value or 0)


def test_facts_of_a_stored_release() -> None:
    manifest = Manifest.model_validate({**example_manifest(), "risk": "emergency"})
    at = START + DAY
    release = Release(manifest=manifest, digest="d", received_at=at, lead_time_seconds=60.0)
    for event, when in ((E.DEPLOYED, at), (E.FAILED, at + HOUR), (E.ROLLED_BACK, at + 2 * HOUR)):
        release = release.advanced(event, when, lead_time=None, links={})
    assert ReleaseFacts.of(release) == ReleaseFacts(
        service="webapp",
        env="prod",
        deployed_at=at,
        failed_at=at + HOUR,
        rolled_back_at=at + 2 * HOUR,
        lead_time_seconds=60.0,
        hotfix=True,
    )


def test_filters_by_service_and_env() -> None:
    stories = HISTORIES["everything, several services"]
    api = report(stories, service="api")
    assert api.deploy_frequency_per_day.count == 2
    assert count_window(facts(stories), WINDOW, service="api").failures == 2  # api-never too
    assert api.open_failures == 2
    staging = report(stories, env="staging")
    assert staging.deploy_frequency_per_day.count == 1
    everything = report(stories)
    assert everything.deploy_frequency_per_day.count == 10 + 5 + 2 + 1


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize("name", HISTORIES)
def test_time_zones_change_nothing(name: str, zone: timezone) -> None:
    stories = HISTORIES[name]
    shifted = [s.shifted(zone) for s in stories]
    window = DoraWindow(WINDOW.start.astimezone(zone), WINDOW.end.astimezone(zone))
    assert window == WINDOW
    assert compute_report(facts(shifted), window) == report(stories)


def test_a_deploy_late_in_the_evening_west_of_utc_is_on_the_right_day() -> None:
    pacific = timezone(timedelta(hours=-7))
    # 2025-10-31 23:30 -07:00 is 2025-11-01 06:30 UTC: the window ending 2025-11-02 00:00 UTC
    # has it in its last 24 hours, whatever the local calendar says.
    at = datetime(2025, 10, 31, 23, 30, tzinfo=pacific)
    window = DoraWindow(datetime(2025, 10, 3, tzinfo=UTC), datetime(2025, 11, 2, tzinfo=UTC))
    counts = count_window([deploy("late", at).facts()], window)
    assert counts.deploy_days == {0: 1}


# -- the pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"), [("30d", 30), ("7d", 7), ("12w", 84), ("90d", 90), (" 1D ", 1)]
)
def test_parse_window(text: str, days: int) -> None:
    assert parse_window(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["", "30", "0d", "367d", "1y", "3m", "-7d", "53w"])
def test_parse_window_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_window(text)


def test_window_is_utc_whole_seconds_and_checked() -> None:
    w = DoraWindow.ending(datetime(2025, 11, 1, 12, 0, 0, 999999, tzinfo=UTC), DAY)
    assert w.end == datetime(2025, 11, 1, 12, tzinfo=UTC)
    assert w.label == "1d" and w.days == 1
    assert DoraWindow(START, START + 36 * HOUR).label == "36h"
    with pytest.raises(ValueError, match="aware"):
        DoraWindow(datetime(2025, 1, 1), END)
    with pytest.raises(ValueError, match="after"):
        DoraWindow(END, END)
    with pytest.raises(ValueError, match="aware"):
        DoraWindow.ending(datetime(2025, 1, 1), DAY)


def test_percentile_is_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0, 60.0], 0.9) == pytest.approx(55.0)


def days(*indices: int) -> dict[int, int]:
    return dict.fromkeys(indices, 1)


@pytest.mark.parametrize(
    ("length", "deploy_days", "cadence"),
    [
        (30, days(0, 1, 2, 7, 9, 11, 14, 15, 16, 21, 22, 23), Cadence.DAILY),
        (30, days(0, 1, 7, 8, 14, 15, 21, 22), Cadence.WEEKLY),  # 2 days a week
        (30, {3: 40, 10: 1, 17: 1}, Cadence.WEEKLY),  # one deploy a week in 3 of 4 weeks
        (30, {3: 40, 10: 1}, Cadence.MONTHLY),  # the median week has none
        (90, days(3, 40, 70), Cadence.MONTHLY),
        (90, days(3), Cadence.YEARLY),
        (30, {}, Cadence.YEARLY),
        (30, days(28, 29), Cadence.MONTHLY),  # days 28-29: outside the 4 full weeks
    ],
)
def test_frequency_bucket(length: int, deploy_days: dict[int, int], cadence: Cadence) -> None:
    window = DoraWindow.ending(END, timedelta(days=length))
    assert frequency_bucket(window, deploy_days).value is cadence


def test_frequency_bucket_needs_four_weeks() -> None:
    window = DoraWindow.ending(END, timedelta(days=27))
    assert frequency_bucket(window, days(0, 1, 2)) == CadenceFigure(None, 3, False, 3, 1)


def test_weekly_rate_needs_a_week() -> None:
    window = DoraWindow.ending(END, timedelta(days=3))
    r = build_report(service=None, env=None, window=window, counts=WindowCounts(deploys=6))
    assert r.deploy_frequency_per_day.value == 2.0
    assert r.deploy_frequency_per_week == Figure(None, 6, False, "per week")


def test_trend() -> None:
    now = Figure(0.3, 10, True, "ratio")
    assert trend(now, None).direction is None
    assert trend(now, Figure(None, 2, False, "ratio")).direction is None
    up = trend(now, Figure(0.2, 10, True, "ratio"))
    assert up.direction is Direction.UP and up.better is False
    assert up.change == pytest.approx(0.1)
    down = trend(Figure(2.0, 10, True, "per day"), Figure(3.0, 9, True, "per day"))
    assert down.direction is Direction.DOWN and down.better is True
    faster = trend(
        Figure(3.0, 10, True, "per day"), Figure(2.0, 9, True, "per day"), higher_is_better=True
    )
    assert faster.better is True
    flat = trend(Figure(1.04, 5, True, "per day"), Figure(1.0, 5, True, "per day"))
    assert flat.direction is Direction.FLAT and flat.better is None
    assert trend(Figure(0.0, 5, True, "x"), Figure(0.0, 5, True, "x")).direction is Direction.FLAT


def test_as_dict_has_every_figure_with_count_enough_trend_and_previous() -> None:
    data = report(month_of_webapp(), service="webapp", env="prod").as_dict()
    assert set(data["figures"]) == {
        "rollback_rehearsed_rate",
        "deploy_frequency_per_day",
        "deploy_frequency_per_week",
        "lead_time_median_s",
        "lead_time_p90_s",
        "change_failure_rate",
        "time_to_restore_median_s",
        "rework_rate",
    }
    cfr = data["figures"]["change_failure_rate"]
    assert cfr["value"] == 0.3 and cfr["count"] == 10 and cfr["enough"] is True
    assert cfr["numerator"] == 3 and cfr["trend"]["direction"] is None
    assert data["frequency_bucket"]["value"] == "weekly"
    assert data["window"]["label"] == "30d"
    assert data["previous"]["figures"]["deploy_frequency_per_day"]["count"] == 4
