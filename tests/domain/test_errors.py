"""The domain's own errors share one base, DomainError, part of Herald's error tree."""

from __future__ import annotations

import pytest

from bot.domain.checkup.metrics import MetricsUnavailable
from bot.domain.deploy.parse import CommandError
from bot.domain.deploy.tool import DeployFailure, DeployToolError
from bot.domain.ports import ConcurrentWrite
from bot.domain.services.access import GroupLookupError
from bot.domain.services.directory import UnknownTarget
from bot.domain.services.oncall import OnCallLookupError
from bot.domain.transactions import ChangedConcurrently
from bot.errors import DomainError, HeraldError


@pytest.mark.parametrize(
    "error",
    [
        GroupLookupError("Slack answered ratelimited"),
        OnCallLookupError("PagerDuty did not answer in 5 s"),
        UnknownTarget("no service `webap`", suggestions=("webapp",)),
        CommandError("That is not a /deploy command."),
        DeployToolError(DeployFailure.TIMEOUT, "Argo CD did not answer in 5 s"),
        MetricsUnavailable("Prometheus is unreachable"),
        ConcurrentWrite("rel-1"),
        ChangedConcurrently(),
    ],
    ids=type,
)
def test_every_domain_error_is_a_domain_error_with_its_message(error: DomainError) -> None:
    assert isinstance(error, DomainError) and isinstance(error, HeraldError)
    assert str(error) == error.message == error.args[0]


def test_only_a_domain_error_with_an_http_meaning_has_a_status_of_its_own() -> None:
    assert ChangedConcurrently.status == 503
    assert ConcurrentWrite.status == DomainError.status == HeraldError.status == 500
