"""`herald check-config` and the on-call settings: an escalation policy needs a REST token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import escalation_policy, load_catalog
from bot.cli.main import main

CATALOG = """
services:
  webapp:
    owners: [U0OWNER01]
    pagerduty_escalation_policy: PWEBAPP
  billing:
    owners: [U0OWNER01]
"""


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    monkeypatch.setenv("HERALD_CONFIG", str(path))
    monkeypatch.delenv("PAGERDUTY_API_TOKEN", raising=False)
    monkeypatch.delenv("PAGERDUTY_API_URL", raising=False)
    return path


def test_the_catalogue_names_each_services_escalation_policy(catalog: Path) -> None:
    loaded = load_catalog(catalog)
    assert escalation_policy(loaded, "webapp") == "PWEBAPP"
    assert escalation_policy(loaded, "billing") is None
    assert escalation_policy(loaded, "unknown") is None


def test_a_policy_without_an_api_token_is_reported(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert (
        "services.webapp.pagerduty_escalation_policy is set but PAGERDUTY_API_TOKEN is not" in out
    )
    assert "services.billing" not in out


def test_with_a_token_the_policy_is_fine_and_a_bad_url_is_not(
    catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "u+abcdefghijklmnopqrs")
    monkeypatch.setenv("PAGERDUTY_API_URL", "api.pagerduty.com")
    main(["check-config"])
    out = capsys.readouterr().out
    assert "pagerduty_escalation_policy" not in out
    assert "PAGERDUTY_API_URL must be an http(s) URL" in out


def test_a_malformed_policy_id_is_refused(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog.write_text(CATALOG.replace("PWEBAPP", "not a policy"), encoding="utf-8")
    assert main(["check-config"]) == 1
    assert "services.webapp.pagerduty_escalation_policy" in capsys.readouterr().out
