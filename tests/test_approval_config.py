"""`approvals:` of a service in the catalogue, and what `herald check-config` says about a
policy that cannot work, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog_approvals import approval_policy
from bot.cli.main import main
from bot.domain.approval.policy import Need, Tier, need_for
from bot.domain.release.manifest import Risk
from tests.test_freeze_config import write

CAB = "services:\n  webapp:\n    approvals: {approvers: [S0LEADS, S0SRE], normal: 2}\n"


def test_a_cab_policy_asks_two_groups_for_a_normal_change_and_one_for_an_emergency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = approval_policy(load_catalog(write(tmp_path, monkeypatch, CAB)), "webapp")
    assert need_for(policy, Risk.STANDARD) is None  # pre-approved
    assert need_for(policy, None) == Need(Tier.NORMAL, 2, distinct=True, review=False)
    assert need_for(policy, Risk.EMERGENCY) == Need(Tier.EMERGENCY, 1, distinct=False, review=True)
    assert need_for(None, Risk.NORMAL) is None  # a service without a policy asks nobody


@pytest.mark.parametrize(
    ("policy", "said"),
    [
        ("{approvers: []}", "services.webapp.approvals.approvers: List should have at least 1"),
        ("{approvers: [alice]}", "services.webapp.approvals.approvers.0: String should match"),
        (
            "{approvers: [U0ALICE], normal: 3}",
            "services.webapp.approvals.normal: Input should be 1 or 2",
        ),
        ("{approvers: [U0ALICE], normal: 2}", "normal: 2 needs at least two different approvers"),
        (
            "{approvers: [U0ALICE], channel: release-cab}",
            "services.webapp.approvals.channel: must be a Slack channel id",
        ),
        (
            "{approvers: [U0ALICE], quorum: 2}",
            "services.webapp.approvals.quorum: Extra inputs are not permitted",
        ),
    ],
)
def test_check_config_names_the_field_of_a_policy_that_cannot_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    policy: str,
    said: str,
) -> None:
    write(tmp_path, monkeypatch, f"services:\n  webapp:\n    approvals: {policy}\n")
    assert main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert said in out, out
