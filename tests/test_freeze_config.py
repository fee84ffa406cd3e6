"""`freezes:` in the catalogue: what a release manager writes, and what `herald check-config`
says about a window that cannot work, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog_freezes import build_freeze_calendar
from bot.cli.main import main
from tests.served import REQUIRED_SETTINGS

CATALOG = """
services:
  webapp: {owners: [U0OWNER01]}
  checkout: {owners: [U0OWNER01]}
freezes:
  - name: end-of-year
    reason: End-of-year change freeze
    start: 2026-12-20T18:00:00+01:00
    end: 2027-01-04T08:00:00+01:00
  - name: weekend
    reason: No Friday-afternoon deploys
    rrule: FREQ=WEEKLY;BYDAY=FR;BYHOUR=15;BYMINUTE=0
    duration: 65h
    timezone: Europe/Berlin
    services: [checkout]
    envs: [prod]
"""


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(text, encoding="utf-8")
    for name, value in {**REQUIRED_SETTINGS, "HERALD_CONFIG": str(path)}.items():
        monkeypatch.setenv(name, value)
    return path


def test_the_catalogues_freezes_hold_what_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = build_freeze_calendar(load_catalog(write(tmp_path, monkeypatch, CATALOG)).freezes)
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert [o.name for o in calendar.holding("webapp", "staging", at=new_year)] == ["end-of-year"]
    friday = datetime(2026, 12, 11, 15, tzinfo=UTC)  # 16:00 in Berlin
    assert [o.name for o in calendar.holding("checkout", "prod", at=friday)] == ["weekend"]
    assert calendar.holding("webapp", "prod", at=friday) == []


@pytest.mark.parametrize(
    ("window", "said"),
    [
        (
            "{name: w, reason: r, rrule: FREQ=WEEKLY, duration: 2h, timezone: Mars/Base}",
            "freezes.0.timezone: unknown time zone 'Mars/Base'",
        ),
        (
            "{name: w, reason: r, rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', duration: 1h}",
            "freezes.0.rrule: never fires within 5 years",
        ),
        (
            "{name: w, reason: r, rrule: 'FREQ=FORTNIGHTLY', duration: 1h}",
            "freezes.0.rrule: not an RFC 5545 RRULE",
        ),
        (
            "{name: w, reason: r, start: '2026-12-20T18:00:00', end: '2027-01-04T08:00:00'}",
            "freezes.0: start and end need a UTC offset",
        ),
        (
            "{name: w, reason: r, start: '2026-12-20T18:00:00Z', end: '2026-12-01T00:00:00Z'}",
            "freezes.0: end must be after start",
        ),
        (
            "{name: w, reason: r, start: '2026-12-20T18:00:00Z', end: '2027-01-04T08:00:00Z',"
            " services: [billing]}",
            "freezes.0.services: unknown service 'billing'",
        ),
    ],
)
def test_check_config_names_the_field_of_a_freeze_that_cannot_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    window: str,
    said: str,
) -> None:
    write(
        tmp_path,
        monkeypatch,
        f"services:\n  webapp: {{owners: [U0OWNER01]}}\nfreezes:\n  - {window}\n",
    )
    assert main(["check-config"]) == 1
    assert f"HERALD_CONFIG {said}" in capsys.readouterr().out


def test_check_config_accepts_the_example_freezes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, monkeypatch, CATALOG)
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == "configuration OK\n"
