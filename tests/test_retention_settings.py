"""HERALD_RETENTION_*: safe defaults, and a retention that would break dedupe is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.factories import build_retention_policy
from bot.settings import Settings
from bot.store.inbox import DEDUPE_HORIZON


def test_by_default_inbox_keys_are_kept_two_weeks_and_delivered_rows_a_month() -> None:
    policy = build_retention_policy(Settings())
    assert policy.inbox == timedelta(days=14) and policy.inbox >= DEDUPE_HORIZON
    assert policy.outbox == timedelta(days=30)
    assert policy.batch == 1000


def test_zero_keeps_every_row() -> None:
    policy = build_retention_policy(Settings(retention_inbox_days=0, retention_outbox_days=0))
    assert (policy.inbox, policy.outbox) == (None, None)


def test_an_inbox_retention_inside_the_dedupe_horizon_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_RETENTION_INBOX_DAYS", "3")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert (
        "HERALD_RETENTION_INBOX_DAYS=3 is shorter than the inbox's dedupe horizon (7 days)" in err
    )
    assert "acted on twice" in err


def test_an_outbox_retention_under_a_day_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_RETENTION_OUTBOX_DAYS", "0.5")
    assert main(["check-config"]) == 2
    assert "HERALD_RETENTION_OUTBOX_DAYS=0.5 is under a day" in capsys.readouterr().err
