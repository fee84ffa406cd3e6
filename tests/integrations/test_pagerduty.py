"""PagerDutyClient against the fake PagerDuty over real HTTP: sending, dedup across retries,
backoff and deadlines on a fake clock, rejections, and no routing key in the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.domain.paging import Page, PageOutcome, Pager, release_dedup_key
from bot.integrations.pagerduty import PagerDutyClient
from standins.pagerduty import FakePagerDuty
from tests.specs import load_spec
from tests.standins.test_fake_pagerduty import Contract
from tests.waiting import eventually

KEY = "R0UT1NGKEY0123456789abcdefSECRET"  # 32 characters
DEDUP = release_dedup_key("r-42")
PAGE = Page(
    dedup_key=DEDUP,
    summary="webapp 1.2.3 failed its 30-minute checks in prod",
    source="herald/webapp/prod",
    component="webapp",
    group="prod",
    links=(("https://herald.example/releases/r-42", "Release r-42"),),
    custom_details={"release": "r-42", "error_rate": 0.12},
    client_url="https://herald.example",
)


class Clock:
    """A fake clock whose ``sleep`` only advances time (and may run a hook, once)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
        self.sleeps: list[float] = []
        self.on_first_sleep: Callable[[], None] | None = None

    def __call__(self) -> datetime:
        return self.now

    def after(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        hook, self.on_first_sleep = self.on_first_sleep, None
        if hook is not None:
            hook()


@pytest.fixture
async def pd() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(spec=load_spec("pagerduty_events_v2_openapiv3.json")) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(pd: FakePagerDuty, session: aiohttp.ClientSession, clock: Clock) -> PagerDutyClient:
    return PagerDutyClient(
        session=session, events_url=pd.url + "/", timeout_seconds=2, clock=clock, sleep=clock.sleep
    )


def statuses(pd: FakePagerDuty) -> list[int]:
    return [r.status for r in pd.requests]


def test_the_client_is_a_pager(client: PagerDutyClient) -> None:
    pager: Pager = client
    assert KEY not in repr(pager)


async def test_trigger_opens_one_alert(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    assert await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(60)) == "sent"
    [alert] = pd.open_alerts()
    assert (alert.dedup_key, alert.status) == ("herald:rel:r-42", "triggered")
    assert pd.events == [
        {
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "herald:rel:r-42",
            "payload": {
                "summary": PAGE.summary,
                "source": "herald/webapp/prod",
                "severity": "critical",
                "timestamp": "2025-06-02T09:00:00+00:00",
                "component": "webapp",
                "group": "prod",
                "custom_details": {"release": "r-42", "error_rate": 0.12},
            },
            "client": "Herald",
            "client_url": "https://herald.example",
            "links": [{"href": "https://herald.example/releases/r-42", "text": "Release r-42"}],
        }
    ]
    assert clock.sleeps == []


async def test_reliability_6_pagerduty_faults(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    """429, then 500, then accepted-but-reset → one open alert, backoff honoured; after the
    alert is resolved, no stale trigger is sent."""
    pd.rate_limit_next(retry_after=7)
    pd.fail_next(status=500)
    pd.accept_then_reset_next()
    outcome = await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(600))
    assert outcome is PageOutcome.SENT
    assert statuses(pd) == [429, 500, 0, 202]
    assert clock.sleeps == [7, 1, 2]  # Retry-After honoured; the 500 is the first failure
    [alert] = pd.alerts_for(DEDUP)  # the reset one was ingested; the retry added to it
    assert alert.status == "triggered" and len(alert.events) == 2
    assert len(pd.open_alerts()) == 1

    # A human resolves it; the trigger that was sent is done: nothing re-opens the alert.
    pd.resolve_by_human(DEDUP)
    assert len(pd.requests) == 4 and pd.open_alerts() == []

    # An update is being retried (429s) when the human resolves the alert again; the
    # retry that would have re-opened it falls after the deadline and is never sent.
    await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(600))
    assert len(pd.open_alerts()) == 1  # re-opened on purpose (a fresh trigger)
    pd.rate_limit_next(times=2, retry_after=3)
    clock.sleeps.clear()
    clock.on_first_sleep = lambda: pd.resolve_by_human(DEDUP)
    outcome = await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(5))
    assert outcome is PageOutcome.GAVE_UP
    assert clock.sleeps == [3]  # the next retry (t=6) would pass the deadline (t=5)
    assert statuses(pd)[-2:] == [429, 429]
    assert pd.open_alerts() == []  # the fake has no faults left: a retry would re-open it
    assert [a.status for a in pd.alerts_for(DEDUP)] == ["resolved", "resolved"]


async def test_backoff_without_retry_after_is_exponential_and_capped(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    pd.rate_limit_next()
    pd.fail_next(status=503, times=6)
    outcome = await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(3600))
    assert outcome is PageOutcome.SENT
    assert clock.sleeps == [1, 1, 2, 4, 8, 16, 30]  # the 429 waits 1 s and counts no failure
    assert len(pd.open_alerts()) == 1


async def test_400_is_rejected_and_never_retried(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.integrations.pagerduty")
    bad_key = "too-short"
    outcome = await client.trigger(PAGE, routing_key=bad_key, deadline=clock.after(600))
    assert outcome is PageOutcome.REJECTED
    assert statuses(pd) == [400] and clock.sleeps == []
    assert pd.alerts == []
    assert "'routing_key' must be 32 characters" in caplog.text  # the errors are logged
    assert bad_key not in caplog.text


async def test_a_passed_deadline_gives_up_without_a_request(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    assert await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(-1)) == "gave_up"
    assert await client.resolve(DEDUP, routing_key=KEY, deadline=clock.now) == "gave_up"
    assert pd.requests == []


async def test_retries_stop_before_the_deadline(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    pd.fail_next(times=10)
    outcome = await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(5))
    assert outcome is PageOutcome.GAVE_UP
    assert clock.sleeps == [1, 2]  # 1 + 2 + 4 would pass the deadline: no 4th request
    assert statuses(pd) == [500, 500, 500]


async def test_no_late_trigger_after_a_human_resolved_the_alert(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    """The trigger waited in the outbox past its deadline while a human handled the
    incident: sending it now would re-open the alert, so nothing is sent."""
    await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(60))
    pd.resolve_by_human(DEDUP)
    clock.now += timedelta(minutes=10)
    assert await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(-300)) == "gave_up"
    assert len(pd.requests) == 1 and pd.open_alerts() == []


async def test_a_timeout_is_retried_and_still_one_alert(
    pd: FakePagerDuty, session: aiohttp.ClientSession, clock: Clock
) -> None:
    client = PagerDutyClient(
        session=session, events_url=pd.url, timeout_seconds=0.1, clock=clock, sleep=clock.sleep
    )
    pd.slow_next(0.4)
    assert await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(60)) == "sent"
    assert clock.sleeps == [1]
    await eventually(lambda: len(pd.events) == 2)  # the slow one was ingested too
    [alert] = pd.alerts
    assert alert.open and len(alert.events) == 2


async def test_an_unreachable_server_is_retried_until_the_deadline(
    session: aiohttp.ClientSession, clock: Clock
) -> None:
    async with FakePagerDuty() as fake:
        url = fake.url
    client = PagerDutyClient(session=session, events_url=url, clock=clock, sleep=clock.sleep)
    outcome = await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(10))
    assert outcome is PageOutcome.GAVE_UP
    assert clock.sleeps == [1, 2, 4]


async def test_resolve_resolves_the_alert(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(60))
    pd.fail_next()
    assert await client.resolve(DEDUP, routing_key=KEY, deadline=clock.after(60)) == "sent"
    [alert] = pd.alerts
    assert alert.status == "resolved"
    assert pd.events[-1] == {"routing_key": KEY, "event_action": "resolve", "dedup_key": DEDUP}


async def test_change_event_is_accepted(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    outcome = await client.change_event(
        summary="Deployed webapp 1.2.3 to prod " + "x" * 2000,
        source="herald/webapp/prod",
        routing_key=KEY,
        links=[("https://herald.example/releases/r-42", "Release r-42"), ("https://x.example", "")],
        custom_details={"version": "1.2.3"},
        deadline=clock.after(60),
    )
    assert outcome is PageOutcome.SENT
    [event] = pd.change_events
    assert len(event["payload"]["summary"]) == 1024 and event["payload"]["summary"][-1] == "…"
    assert event["payload"]["custom_details"] == {"version": "1.2.3"}
    assert event["links"][1] == {"href": "https://x.example"}
    assert pd.alerts == []


async def test_routing_key_never_appears_in_logs(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pd.rate_limit_next(retry_after=1)
    pd.fail_next()
    pd.accept_then_reset_next()
    await client.trigger(PAGE, routing_key=KEY, deadline=clock.after(600))
    pd.fail_next(times=5)
    await client.resolve(DEDUP, routing_key=KEY, deadline=clock.after(3))
    await client.change_event(summary="x", source="y", routing_key=KEY, deadline=clock.after(9))
    await client.trigger(PAGE, routing_key=KEY[:-1], deadline=clock.after(9))  # 400
    assert len(caplog.records) >= 6
    assert "rejected" in caplog.text and "gave up" in caplog.text and "retrying" in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY[:-1] not in record.getMessage()


async def test_every_request_the_client_sends_matches_the_spec(
    client: PagerDutyClient, pd: FakePagerDuty, clock: Clock
) -> None:
    deadline = clock.after(60)
    await client.trigger(PAGE, routing_key=KEY, deadline=deadline)
    await client.trigger(Page(DEDUP, "minimal", "herald"), routing_key=KEY, deadline=deadline)
    await client.resolve(DEDUP, routing_key=KEY, deadline=deadline)
    await client.change_event(
        summary="Deployed", source="herald", routing_key=KEY, deadline=deadline
    )
    contract = Contract(load_spec("pagerduty_events_v2_openapiv3.json"))
    assert statuses(pd) == [202] * 4
    for request in pd.requests:
        contract.check(request)


# -- the domain's Page -------------------------------------------------------------------


def test_page_cuts_the_summary_and_checks_its_fields() -> None:
    page = Page(DEDUP, "s" * 2000, "herald")
    assert len(page.summary) == 1024 and page.summary.endswith("…")
    assert release_dedup_key("r" * 300) == ("herald:rel:" + "r" * 300)[:255]
    bad: list[dict[str, Any]] = [
        {"dedup_key": ""},
        {"dedup_key": "k" * 256},
        {"severity": "fatal"},
        {"source": ""},
    ]
    for fields in bad:
        with pytest.raises(ValueError):
            Page(**{"dedup_key": DEDUP, "summary": "s", "source": "herald", **fields})
