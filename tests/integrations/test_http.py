"""The one outbound HTTP helper, against the stand-ins over real HTTP: every failed call to
Argo CD, Prometheus or PagerDuty is one IntegrationError (a HeraldError) and one log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.domain.checkup.metrics import MetricsUnavailable
from bot.domain.deploy.tool import DeployFailure, DeployTarget, DeployToolError, RolloutRef
from bot.domain.paging import Page, PageOutcome, release_dedup_key
from bot.domain.services.oncall import OnCallLookupError
from bot.errors import HeraldError, IntegrationError
from bot.integrations.argocd import ArgoCDClient
from bot.integrations.http import TIMEOUT, ErrorAnswer, HttpService
from bot.integrations.pagerduty import PagerDutyClient
from bot.integrations.pagerduty_oncall import PagerDutyRestClient
from bot.integrations.prometheus import PrometheusClient
from standins.argocd import FakeArgoCD, FakeRollout
from standins.pagerduty import FakePagerDuty
from standins.pagerduty_rest import FakePagerDutyRest
from standins.prometheus import FakePrometheus

TOKEN = "argocd-secret-token"
KEY = "R0UT1NGKEY0123456789abcdefSECRET"
TARGET = DeployTarget("webapp", project="default", rollout=RolloutRef("webapp", "web"))
AT = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def argo() -> AsyncIterator[FakeArgoCD]:
    async with FakeArgoCD() as fake:
        fake.add_app("webapp", revision="a" * 40, rollout=FakeRollout("webapp", "web"))
        yield fake


def failed_calls(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The helper's lines for failed calls (WARNING and up)."""
    return [
        r
        for r in caplog.records
        if r.name == "bot.integrations.http" and r.levelno >= logging.WARNING
    ]


def fields(record: logging.LogRecord) -> dict[str, object]:
    """The structured part of a helper's line."""
    keys = ("service", "method", "path", "status", "error", "elapsed_ms")
    return {k: record.__dict__.get(k) for k in keys}


def cause(error: BaseException) -> IntegrationError:
    assert isinstance(error.__cause__, IntegrationError), repr(error.__cause__)
    assert isinstance(error.__cause__, HeraldError)
    return error.__cause__


# -- the error type ----------------------------------------------------------------------------


def test_integration_error_is_a_herald_error_with_its_fields() -> None:
    error = IntegrationError("slack", "rate limited", retry_after=3.0)
    assert isinstance(error, HeraldError) and error.status == 502
    assert (error.service, error.message, error.retryable, error.ambiguous) == (
        "slack",
        "rate limited",
        True,
        False,
    )
    assert (error.retry_after, error.http_status, error.extra) == (3.0, None, {})
    assert str(error) == "slack: rate limited"
    named = IntegrationError(service="x", message="m", retryable=False, extra={"a": "b"})
    assert (named.retryable, named.extra) == (False, {"a": "b"})


# -- Argo CD: a timeout --------------------------------------------------------------------------


async def test_an_argo_cd_timeout_is_one_error_and_one_log_line(
    argo: FakeArgoCD, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = ArgoCDClient(session=session, base_url=argo.url, token=TOKEN, timeout_seconds=0.2)
    argo.slow_next(2)
    with pytest.raises(DeployToolError) as caught:
        await client.get_app(TARGET)
    assert caught.value.kind is DeployFailure.TIMEOUT
    assert caught.value.message == "Argo CD did not answer in 0.2 s; nothing was changed."
    error = cause(caught.value)
    assert (error.service, error.message, error.http_status) == (
        "Argo CD",
        "Argo CD did not answer in 0.2 s; nothing was changed.",
        None,
    )
    assert (error.retryable, error.ambiguous, error.extra) == (True, False, {"error": TIMEOUT})
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.name == "bot.integrations.http"
    logged = fields(line)
    elapsed = logged.pop("elapsed_ms")
    assert logged == {
        "service": "Argo CD",
        "method": "GET",
        "path": "/api/v1/applications/webapp",
        "status": None,
        "error": TIMEOUT,
    }
    assert isinstance(elapsed, int) and 150 <= elapsed < 2000
    assert line.getMessage().startswith("Argo CD GET /api/v1/applications/webapp failed: timeout")
    assert TOKEN not in caplog.text


async def test_a_write_that_times_out_is_ambiguous(
    argo: FakeArgoCD, session: aiohttp.ClientSession
) -> None:
    http = HttpService(session=session, service="Argo CD", base_url=argo.url, timeout_seconds=0.2)
    argo.slow_next(2)
    with pytest.raises(IntegrationError) as caught:
        await http.request("POST", "/api/v1/applications/webapp/rollback", data="{}")
    assert caught.value.ambiguous
    assert caught.value.message == (
        "Argo CD did not answer in 0.2 s; the change may or may not have been made; "
        "check the status before retrying."
    )


# -- Prometheus: connection refused -----------------------------------------------------------


async def test_a_refused_prometheus_is_one_error_and_one_log_line_per_call(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakePrometheus() as gone:
        url = gone.url
    client = PrometheusClient(session=session, base_url=url, retries=0)
    with pytest.raises(MetricsUnavailable) as caught:
        await client.query("up", at=AT)
    assert caught.value.message == f"Could not reach Prometheus at {url} (ClientConnectorError)"
    error = cause(caught.value)
    assert (error.service, error.ambiguous, error.http_status) == ("Prometheus", False, None)
    assert error.extra == {"error": "ClientConnectorError"}
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.name == "bot.integrations.http"
    assert fields(line) | {"elapsed_ms": 0} == {
        "service": "Prometheus",
        "method": "POST",
        "path": "/api/v1/query",
        "status": None,
        "error": "ClientConnectorError",
        "elapsed_ms": 0,
    }

    caplog.clear()
    retried = PrometheusClient(session=session, base_url=url, retry_delay_seconds=0.01)
    with pytest.raises(MetricsUnavailable):
        await retried.query("up", at=AT)
    assert len(failed_calls(caplog)) == 3  # 2 retries: three calls, three lines


# -- PagerDuty Events: a 5xx ----------------------------------------------------------------------


async def test_a_pagerduty_5xx_is_one_error_and_one_log_line(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakePagerDuty() as pd:
        http = HttpService(session=session, service="PagerDuty", base_url=pd.url, timeout_seconds=2)
        pd.fail_next(status=503)
        with pytest.raises(IntegrationError) as caught:
            await http.request("POST", "/v2/enqueue", data=f'{{"routing_key": "{KEY}"}}')
    error = caught.value
    assert isinstance(error, ErrorAnswer) and isinstance(error, HeraldError)
    assert (error.service, error.http_status, error.retryable) == ("PagerDuty", 503, True)
    assert error.answer.status == 503
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert fields(line) | {"elapsed_ms": 0} == {
        "service": "PagerDuty",
        "method": "POST",
        "path": "/v2/enqueue",
        "status": 503,
        "error": None,
        "elapsed_ms": 0,
    }
    assert line.getMessage().startswith("PagerDuty POST /v2/enqueue failed: HTTP 503")
    assert KEY not in caplog.text


async def test_each_failed_page_attempt_logs_one_line_and_the_client_still_decides(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    async with FakePagerDuty() as pd:
        client = PagerDutyClient(session=session, events_url=pd.url, clock=lambda: now)
        pd.fail_next(status=502)
        page = Page(release_dedup_key("r-1"), "webapp failed", "herald")
        deadline = now + timedelta(seconds=0.5)  # no time for a retry
        outcome = await client.trigger(page, routing_key=KEY, deadline=deadline)
    assert outcome is PageOutcome.GAVE_UP
    assert [r.status for r in pd.requests] == [502]
    [line] = failed_calls(caplog)
    assert (fields(line)["service"], fields(line)["status"]) == ("PagerDuty", 502)
    assert any("gave up" in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text


# -- PagerDuty REST: a 401 ---------------------------------------------------------------------


async def test_a_pagerduty_rest_401_is_one_error_and_one_log_line(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakePagerDutyRest() as pd:
        client = PagerDutyRestClient(session=session, base_url=pd.url, token="revoked-secret")
        with pytest.raises(OnCallLookupError) as caught:
            await client.user("PALEX")
    assert caught.value.message == (
        "PagerDuty refused PAGERDUTY_API_TOKEN (401: Authentication failed)"
    )
    error = cause(caught.value)
    assert (error.service, error.http_status, error.retryable) == ("PagerDuty", 401, False)
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert fields(line) | {"elapsed_ms": 0} == {
        "service": "PagerDuty",
        "method": "GET",
        "path": "/users/PALEX",
        "status": 401,
        "error": None,
        "elapsed_ms": 0,
    }
    assert "revoked-secret" not in caplog.text


# -- what a log line never holds -------------------------------------------------------------


async def test_a_failed_call_logs_no_query_and_no_header(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakePagerDutyRest() as pd:
        http = HttpService(
            session=session,
            service="PagerDuty",
            base_url=pd.url + "/",
            headers={"Authorization": "Token token=header-secret"},
            timeout_seconds=2,
        )
        assert "header-secret" not in repr(http)
        with pytest.raises(ErrorAnswer):
            await http.request("GET", "/oncalls?api_key=query-secret", params={"k": "v"})
    [line] = failed_calls(caplog)
    assert fields(line)["path"] == "/oncalls"
    assert "query-secret" not in caplog.text and "header-secret" not in caplog.text
